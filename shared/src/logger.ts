/** Plain line logger on stderr: containers collect it, and tests can read it. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(component: string): Logger;
}

export function createLogger(component: string, level: Level = envLevel()): Logger {
  const min = ORDER[level];
  const write = (lvl: Level, msg: string) => {
    if (ORDER[lvl] >= min) process.stderr.write(`${new Date().toISOString()} ${lvl.toUpperCase()} [${component}] ${msg}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    child: (c) => createLogger(`${component}:${c}`, level),
  };
}

function envLevel(): Level {
  const v = (process.env.SELDON_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info').toLowerCase();
  if (v === 'warning') return 'warn';
  return v in ORDER ? (v as Level) : 'info';
}
