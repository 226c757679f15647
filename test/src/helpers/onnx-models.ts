import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pythonJson } from './python.js';

/**
 * ONNX models built at test time: torch.onnx.export of a small MLP and CNN (expected outputs are torch's own), and
 * onnx.helper graphs for ai.onnx.ml operators and strings (expected values computed in the script from the model
 * definition: onnx 1.12 has no reference evaluator).
 */
const BUILD = `
import json, os, sys
import numpy as np
import torch
import onnx
from onnx import helper, TensorProto

out = sys.argv[1]
torch.manual_seed(7)
rng = np.random.default_rng(7)
paths, expected = {}, {}

def folder(name):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    paths[name] = d
    return d

# --- MLP: 6 features -> 3 scores
mlp = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).eval()
mlp_rows = rng.normal(size=(5, 6)).astype(np.float32)
torch.onnx.export(mlp, torch.from_numpy(mlp_rows), os.path.join(folder('mlp'), 'model.onnx'), input_names=['features'],
                  output_names=['scores'], dynamic_axes={'features': {0: 'batch'}, 'scores': {0: 'batch'}}, opset_version=13)
with torch.no_grad():
    expected['mlp'] = {'rows': mlp_rows.tolist(), 'scores': mlp(torch.from_numpy(mlp_rows)).numpy().tolist()}

# --- CNN: [N, 1, 8, 8] images -> 2 logits
class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 4 * 4, 2)
    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc(torch.flatten(x, 1))
cnn = Cnn().eval()
images = rng.normal(size=(3, 1, 8, 8)).astype(np.float32)
torch.onnx.export(cnn, torch.from_numpy(images), os.path.join(folder('cnn'), 'cnn.onnx'), input_names=['image'],
                  output_names=['logits'], dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13)
with torch.no_grad():
    expected['cnn'] = {'images': images.tolist(), 'logits': cnn(torch.from_numpy(images)).numpy().tolist()}

# --- ai.onnx.ml tree ensemble classifier (2 trees, 3 features, 3 classes) + ZipMap
trees = [
    # (node id, feature, threshold, true child, false child) for branches; leaves carry class weights
    {'branches': [(0, 0, 0.5, 1, 2), (1, 1, -0.25, 3, 4)], 'leaves': {2: [0.1, 0.2, 0.7], 3: [0.8, 0.1, 0.1], 4: [0.2, 0.6, 0.2]}},
    {'branches': [(0, 2, 0.0, 1, 2)], 'leaves': {1: [0.5, 0.25, 0.25], 2: [0.05, 0.15, 0.8]}},
]
labels = [10, 20, 30]
attrs = {k: [] for k in ['nodes_treeids', 'nodes_nodeids', 'nodes_featureids', 'nodes_modes', 'nodes_values',
                         'nodes_truenodeids', 'nodes_falsenodeids', 'class_treeids', 'class_nodeids', 'class_ids', 'class_weights']}
for t, tree in enumerate(trees):
    nodes = {b[0]: b for b in tree['branches']}
    for nid in sorted(list(nodes) + list(tree['leaves'])):
        attrs['nodes_treeids'].append(t); attrs['nodes_nodeids'].append(nid)
        if nid in nodes:
            _, f, thr, tc, fc = nodes[nid]
            attrs['nodes_featureids'].append(f); attrs['nodes_modes'].append('BRANCH_LEQ'); attrs['nodes_values'].append(thr)
            attrs['nodes_truenodeids'].append(tc); attrs['nodes_falsenodeids'].append(fc)
        else:
            attrs['nodes_featureids'].append(0); attrs['nodes_modes'].append('LEAF'); attrs['nodes_values'].append(0.0)
            attrs['nodes_truenodeids'].append(0); attrs['nodes_falsenodeids'].append(0)
            for c, w in enumerate(tree['leaves'][nid]):
                attrs['class_treeids'].append(t); attrs['class_nodeids'].append(nid); attrs['class_ids'].append(c); attrs['class_weights'].append(w)

def tree_model(label_name, proba_name, string_labels=None):
    x = helper.make_tensor_value_info('X', TensorProto.FLOAT, [None, 3])
    seq = onnx.TypeProto()
    seq.sequence_type.elem_type.map_type.key_type = TensorProto.STRING if string_labels else TensorProto.INT64
    seq.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    label_attr = {'classlabels_strings': string_labels} if string_labels else {'classlabels_int64s': labels}
    nodes = [
        helper.make_node('TreeEnsembleClassifier', ['X'], [label_name, 'probability_tensor'], domain='ai.onnx.ml',
                         post_transform='NONE', **label_attr, **attrs),
        helper.make_node('ZipMap', ['probability_tensor'], [proba_name], domain='ai.onnx.ml', **label_attr),
    ]
    label_type = TensorProto.STRING if string_labels else TensorProto.INT64
    g = helper.make_graph(nodes, 'trees', [x], [helper.make_tensor_value_info(label_name, label_type, [None]), helper.make_value_info(proba_name, seq)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid('ai.onnx.ml', 1)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m

def eval_trees(row):
    # By hand from the definition: walk each tree (x <= threshold goes to the true child), sum the leaf weights.
    f32 = np.float32
    scores = np.zeros(3, dtype=np.float64)
    for tree in trees:
        nodes = {b[0]: b for b in tree['branches']}
        nid = 0
        while nid in nodes:
            _, f, thr, tc, fc = nodes[nid]
            nid = tc if f32(row[f]) <= f32(thr) else fc
        scores += np.array(tree['leaves'][nid])
    return scores

tree_rows = [[0.1, -1.0, -2.0], [0.1, 3.0, 1.0], [2.0, 0.0, -0.5], [0.9, 0.9, 0.9]]
probs = [eval_trees(r).tolist() for r in tree_rows]
onnx.save(tree_model('label', 'probabilities'), os.path.join(folder('trees'), 'model.onnx'))
# The same model with sklearn-onnx's output names, in a folder with no pickle.
onnx.save(tree_model('output_label', 'output_probability'), os.path.join(folder('sklearn_onnx'), 'classifier.onnx'))
expected['trees'] = {'rows': tree_rows, 'probabilities': probs, 'labels': [labels[int(np.argmax(p))] for p in probs], 'classes': labels}
# String class labels: ZipMap keyed by strings, label output BYTES.
names = ['setosa', 'versicolor', 'virginica']
onnx.save(tree_model('label', 'probabilities', names), os.path.join(folder('trees_str'), 'model.onnx'))
expected['trees_str'] = {'labels': [names[int(np.argmax(p))] for p in probs], 'classes': names}

# --- strings: look words up (ai.onnx.ml LabelEncoder string -> int64), then codes back to names (int64 -> string)
vocab = {'cat': 1, 'dog': 2, 'bird': 3}
kinds = {1: 'feline', 2: 'canine', 3: 'avian'}
text = helper.make_tensor_value_info('text', TensorProto.STRING, [None])
g = helper.make_graph([
    helper.make_node('LabelEncoder', ['text'], ['code'], domain='ai.onnx.ml', keys_strings=list(vocab), values_int64s=list(vocab.values()), default_int64=-1),
    helper.make_node('LabelEncoder', ['code'], ['kind'], domain='ai.onnx.ml', keys_int64s=list(kinds), values_strings=list(kinds.values()), default_string='unknown'),
], 'strings', [text], [helper.make_tensor_value_info('kind', TensorProto.STRING, [None]), helper.make_tensor_value_info('code', TensorProto.INT64, [None])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid('ai.onnx.ml', 2)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, os.path.join(folder('strings'), 'model.onnx'))
words = ['cat', 'dog', 'fish', 'bird']
expected['strings'] = {'words': words, 'kind': [kinds.get(vocab.get(w, -1), 'unknown') for w in words], 'code': [vocab.get(w, -1) for w in words]}

# --- two named inputs: Seldon data.names pick them
a = helper.make_tensor_value_info('a', TensorProto.FLOAT, [None, 1])
b = helper.make_tensor_value_info('b', TensorProto.DOUBLE, [None, 1])
g = helper.make_graph([helper.make_node('Cast', ['a'], ['a64'], to=TensorProto.DOUBLE), helper.make_node('Sub', ['a64', 'b'], ['difference'])],
                      'two', [a, b], [helper.make_tensor_value_info('difference', TensorProto.DOUBLE, [None, 1])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
m.ir_version = 8
onnx.save(m, os.path.join(folder('two_inputs'), 'model.onnx'))
# a - b, so feeding the columns the wrong way round shows; a is float32, so 0.1 arrives as float32(0.1)
pairs = [[1.5, 2.0], [0.1, 0.25]]
expected['two_inputs'] = {'pairs': pairs, 'difference': [[float(np.float32(p[0])) - p[1]] for p in pairs]}

# --- every ONNX element type with a V2 datatype, each passed through Identity
types = {'FP32': TensorProto.FLOAT, 'FP64': TensorProto.DOUBLE, 'FP16': TensorProto.FLOAT16, 'INT8': TensorProto.INT8,
         'INT16': TensorProto.INT16, 'INT32': TensorProto.INT32, 'INT64': TensorProto.INT64, 'UINT8': TensorProto.UINT8,
         'UINT16': TensorProto.UINT16, 'UINT32': TensorProto.UINT32, 'UINT64': TensorProto.UINT64, 'BOOL': TensorProto.BOOL,
         'BYTES': TensorProto.STRING}
g = helper.make_graph([helper.make_node('Identity', [f'in_{k}'], [f'out_{k}']) for k in types], 'types',
                      [helper.make_tensor_value_info(f'in_{k}', v, [None, 2]) for k, v in types.items()],
                      [helper.make_tensor_value_info(f'out_{k}', v, [None, 2]) for k, v in types.items()])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, os.path.join(folder('types'), 'model.onnx'))

print(json.dumps({'paths': paths, 'expected': expected}))
`;

export interface OnnxModels {
  paths: Record<'mlp' | 'cnn' | 'trees' | 'trees_str' | 'sklearn_onnx' | 'strings' | 'two_inputs' | 'types', string>;
  expected: {
    mlp: { rows: number[][]; scores: number[][] };
    cnn: { images: number[][][][]; logits: number[][] };
    trees: { rows: number[][]; probabilities: number[][]; labels: number[]; classes: number[] };
    trees_str: { labels: string[]; classes: string[] };
    strings: { words: string[]; kind: string[]; code: number[] };
    two_inputs: { pairs: number[][]; difference: number[][] };
  };
}

let built: Promise<OnnxModels> | undefined;

export function onnxModels(): Promise<OnnxModels> {
  built ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-onnx-'));
    return pythonJson<OnnxModels>(BUILD, ['torch', 'onnx', 'numpy'], [dir]);
  })();
  return built;
}
