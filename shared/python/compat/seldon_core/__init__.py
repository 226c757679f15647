"""The few names Seldon model classes import from seldon_core, for interpreters without it.

modelfleet serves Seldon language-wrapper classes unchanged; many of them import SeldonComponent, SeldonResponse,
SeldonNotImplementedError or SeldonMicroserviceException. This package is put at the END of sys.path, so a real
seldon_core, when installed, is the one imported. Written from Seldon's documented user contract.
"""
