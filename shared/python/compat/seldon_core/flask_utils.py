"""seldon_core.flask_utils names a model class may use (see the package docstring)."""


class SeldonMicroserviceException(Exception):
    """A user error with its HTTP status (400 unless given) and reason, answered as Seldon's failure body."""

    status_code = 400

    def __init__(self, message, status_code=None, payload=None, reason="MICROSERVICE_BAD_DATA"):
        Exception.__init__(self)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.payload = payload
        self.reason = reason

    def to_dict(self):
        return {"status": {"status": 1, "info": self.message, "code": -1, "reason": self.reason}}

    def __str__(self):
        return str(self.message)
