// Its own module so the modelfleet bin shows it without loading the explainers.
export const EXPLAIN_USAGE = `  modelfleet explain <Type> --predictor-host <host:port> [--protocol seldon.http|tensorflow.http|v2]
                    [--model-name m] [--http-port 9000] [--storage-uri <background data>] [--<config>=<value> ...]
                                                  an explainer (TreeShap needs the model in-process: use
                                                  MODELFLEET_EXPLAINER_TYPE on its server) fronting a remote model`;
