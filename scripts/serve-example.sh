#!/usr/bin/env bash
# Trains the example iris model (once) and serves it with SKLEARN_SERVER on :9000.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f examples/iris/model.joblib ]; then
  node shared/dist/cli.js train-example examples/iris
fi
port=${PREDICTIVE_UNIT_HTTP_SERVICE_PORT:-9000}
cat <<EOT

Serving examples/iris with SKLEARN_SERVER on http://localhost:$port (Ctrl-C to stop). Try:

  curl -s localhost:$port/api/v1.0/predictions -H 'Content-Type: application/json' \\
       -d '{"data":{"ndarray":[[5.1,3.5,1.4,0.2]]}}'
  curl -s localhost:$port/v2/models/iris/infer -H 'Content-Type: application/json' \\
       -d '{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}],"outputs":[{"name":"predict_proba"}]}'

EOT
exec node shared/dist/cli.js serve SKLEARN_SERVER --model-uri examples/iris --model-name iris
