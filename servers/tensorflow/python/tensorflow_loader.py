"""TENSORFLOW_SERVER loader for SavedModels: loads the folder with tf.saved_model.load and answers one signature
(signature_name, default serving_default). Inputs are fed by signature name; a single unnamed tensor feeds a
signature's only input. Outputs are the signature's named outputs."""
import numpy as np
import tensorflow as tf


class SavedModel:
    def __init__(self, path, signature_name):
        self.loaded = tf.saved_model.load(path)
        if signature_name not in self.loaded.signatures:
            raise ValueError(f"SavedModel {path} has no signature {signature_name!r}; it has "
                             + ", ".join(self.loaded.signatures.keys()))
        self.signature_name = signature_name
        self.fn = self.loaded.signatures[signature_name]
        _, self.input_specs = self.fn.structured_input_signature
        self.output_specs = self.fn.structured_outputs

    def info(self):
        def describe(specs):
            return [{"name": k, "dtype": v.dtype.name, "shape": [-1 if d is None else int(d) for d in (v.shape.as_list() or [])]}
                    for k, v in specs.items()]
        inputs = describe(self.input_specs)
        return {
            "outputs": list(self.output_specs.keys()),
            "inputs": inputs,
            "output_specs": describe(self.output_specs),
            "signature_name": self.signature_name,
            "library": "tensorflow",
            "library_version": tf.__version__,
            "n_features": None,
        }

    def infer(self, inputs, outputs, parameters):
        names = list(self.input_specs.keys())
        if len(inputs) == 1 and len(names) == 1 and names[0] not in inputs:
            inputs = {names[0]: next(iter(inputs.values()))}
        missing = [n for n in names if n not in inputs]
        if missing:
            raise ValueError(f"signature {self.signature_name} takes inputs {', '.join(names)}; missing {', '.join(missing)}")
        feeds = {n: tf.constant(np.asarray(inputs[n]), dtype=self.input_specs[n].dtype) for n in names}
        result = self.fn(**feeds)
        return {name: result[name].numpy() for name in outputs}


def load(path, options):
    return SavedModel(path, options.get("signature_name") or "serving_default")
