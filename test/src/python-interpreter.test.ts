import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findPython, PythonNotFoundError } from '@modelfleet/shared/python/interpreter';

test('finds an interpreter that can import sklearn', async () => {
  const py = await findPython(['sklearn', 'numpy']);
  assert.match(py.version, /^3\.\d+/);
});

test('names the missing module and the install command when nothing has it', async () => {
  await assert.rejects(findPython(['no_such_module_xyz'], { PATH: process.env.PATH }), (err: unknown) => {
    assert.ok(err instanceof PythonNotFoundError);
    assert.match(err.message, /no_such_module_xyz/);
    assert.match(err.message, /apt-get install -y python3-no_such_module_xyz/);
    return true;
  });
});

test('PYTHON_BIN that does not exist is reported, not silently replaced', async () => {
  await assert.rejects(findPython([], { PYTHON_BIN: '/nonexistent/python3' }), /\/nonexistent\/python3: not found/);
});
