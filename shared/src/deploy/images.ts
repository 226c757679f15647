/**
 * The images modelfleet ships (deploy/docker/Dockerfile targets) and the implementation each serves. Shared by
 * `modelfleet render` and `modelfleet build` so both name images the way deploy/scripts/build-images.sh tags them.
 */
import { readFileSync } from 'node:fs';

export const IMAGE_FOR: Record<string, string> = {
  SKLEARN_SERVER: 'sklearnserver',
  XGBOOST_SERVER: 'xgboostserver',
  TENSORFLOW_SERVER: 'tensorflowserver',
  MLFLOW_SERVER: 'mlflowserver',
};
/** The language-wrapper image; it also carries every server and the graph executor (`modelfleet run`). */
export const PYTHON_IMAGE = 'python';
export const STORAGE_INIT_IMAGE = 'storage-init';

/** Images are tagged with the package version (all packages move together under lerna). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export interface ImageNaming {
  /** Registry and namespace, e.g. `modelfleet/` or `registry.example.com/ml/`. */
  prefix: string;
  tag: string;
}

export function imageRef(name: string, naming: ImageNaming): string {
  return `${naming.prefix}${name}:${naming.tag}`;
}

/** Seldon's ports (predictiveUnit httpPort / grpcPort / metrics port defaults). */
export const PORTS = { http: 9000, grpc: 9500, metrics: 6000 } as const;
