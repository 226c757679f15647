"""seldon_core.user_model names a model class may use (see the package docstring)."""


class SeldonNotImplementedError(Exception):
    """Raised by a hook to say "not implemented": the wrapper then uses its default behaviour."""


class SeldonResponse:
    """A hook's result with runtime tags and metrics, merged into the response's meta."""

    def __init__(self, data, tags=None, metrics=None):
        self.data = data
        self.tags = tags
        self.metrics = metrics

    @classmethod
    def create(cls, data):
        return data if isinstance(data, cls) else cls(data)


class SeldonComponent:
    """Optional base class: every hook says "not implemented" until a subclass overrides it."""

    def __init__(self, **kwargs):
        pass

    def _not_implemented(self, *args, **kwargs):
        raise SeldonNotImplementedError()

    load = lambda self: None  # noqa: E731 - load is optional and harmless
    predict = predict_raw = _not_implemented
    transform_input = transform_input_raw = _not_implemented
    transform_output = transform_output_raw = _not_implemented
    route = route_raw = _not_implemented
    aggregate = aggregate_raw = _not_implemented
    send_feedback = send_feedback_raw = _not_implemented
    health_status = health_status_raw = _not_implemented
    tags = metrics = class_names = feature_names = init_metadata = _not_implemented
