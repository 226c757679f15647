/** The bench's models, trained once with the Debian Python and cached under bench/.cache: nothing is downloaded. */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(ROOT, 'shared/dist/cli.js');

const TRAIN_XGB = `
import sys, numpy as np, xgboost as xgb
from sklearn.datasets import make_classification
X, y = make_classification(n_samples=20000, n_features=20, random_state=0)
xgb.XGBClassifier(n_estimators=200, max_depth=6, tree_method='hist').fit(X, y).save_model(sys.argv[1])
`;

// A small tabular MLP (32 -> 64 -> 64 -> 10, softmax), exported with torch.onnx (Debian's python3-torch).
const EXPORT_MLP = `
import sys, torch
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10), torch.nn.Softmax(dim=1)).eval()
torch.onnx.export(m, torch.zeros(1, 32), sys.argv[1], input_names=['x'], output_names=['probs'], dynamic_axes={'x': {0: 'n'}, 'probs': {0: 'n'}}, opset_version=13)
`;
export const MLP_WIDTH = 32;

// Explainers: an iris XGBoost for TreeShap, and iris background rows (every third) for KernelShap.
const TRAIN_EXPLAIN = `
import sys, os, numpy as np, xgboost as xgb
from sklearn.datasets import load_iris
X, y = load_iris(return_X_y=True)
d = os.path.dirname(sys.argv[1])
np.save(os.path.join(d, 'background.npy'), X[::3])
xgb.XGBClassifier(n_estimators=100, max_depth=3, n_jobs=1).fit(X, y).save_model(sys.argv[1])
`;

/** bench/.cache/<dir>, with <file> written by Python `code` (given the file's path) unless it is there already. */
async function trainedInPython(dir: string, file: string, modules: string[], code: string): Promise<string> {
  const folder = path.join(ROOT, 'bench/.cache', dir);
  if (!existsSync(path.join(folder, file))) {
    mkdirSync(folder, { recursive: true });
    const { findPython } = await import('@modelfleet/shared');
    const py = await findPython(modules);
    await promisify(execFile)(py.bin, ['-c', code, path.join(folder, file)]);
  }
  return folder;
}

/** Models are trained here (once, cached under bench/.cache): nothing is downloaded. */
export async function trainModels(): Promise<{ iris: string; xgb: string; trivial: string; graphs: string; mlp: string; explain: string }> {
  const iris = path.join(ROOT, 'bench/.cache/iris');
  if (!existsSync(path.join(iris, 'model.joblib'))) {
    mkdirSync(iris, { recursive: true });
    await promisify(execFile)(process.execPath, [CLI, 'train-example', iris]);
  }
  const xgbDir = await trainedInPython('xgb200', 'model.json', ['xgboost', 'sklearn'], TRAIN_XGB);
  // The language wrapper's cost with nothing to compute: a class whose predict returns its input.
  const trivial = path.join(ROOT, 'bench/.cache/trivial');
  mkdirSync(trivial, { recursive: true });
  writeFileSync(path.join(trivial, 'Trivial.py'), 'class Trivial:\n    def predict(self, X, features_names):\n        return X\n');
  // The graph layer's cost: the iris model alone in a deployment, and under a chain of four one-child routers.
  const graphs = path.join(ROOT, 'bench/.cache/graphs');
  mkdirSync(graphs, { recursive: true });
  const sdep = (name: string, graph: string) =>
    `apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: ${name}}\nspec:\n  predictors:\n  - name: p\n    graph: ${graph}\n`;
  const leaf = `{name: iris, implementation: SKLEARN_SERVER, modelUri: ${iris}}`;
  let chain = leaf;
  for (let i = 4; i >= 1; i--) chain = `{name: hop${i}, implementation: SIMPLE_ROUTER, children: [${chain}]}`;
  writeFileSync(path.join(graphs, 'one.yaml'), sdep('one', leaf));
  writeFileSync(path.join(graphs, 'chain4.yaml'), sdep('chain4', chain));
  const mlp = await trainedInPython('onnx-mlp', 'model.onnx', ['torch', 'onnx'], EXPORT_MLP);
  const explain = await trainedInPython('explain-iris', 'model.json', ['xgboost', 'sklearn'], TRAIN_EXPLAIN);
  return { iris, xgb: xgbDir, trivial, graphs, mlp, explain };
}

