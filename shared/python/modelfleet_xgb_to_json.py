"""Converts an XGBoost model file (any format xgboost reads, e.g. legacy binary .bst) to its JSON form on stdout.

Used once at load time by the native engine, which parses JSON and UBJSON itself but not the legacy binary layout.
"""
import sys

import xgboost as xgb


def main(path: str) -> None:
    booster = xgb.Booster(model_file=path)
    sys.stdout.buffer.write(bytes(booster.save_raw(raw_format="json")))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: modelfleet_xgb_to_json.py MODEL_FILE")
    main(sys.argv[1])
