"""What the interop clients share: running named scenarios and recording each outcome."""
import grpc


def status_of(err):
    return {"code": err.code().name, "details": err.details()}


def scenario_runner(out, only=None):
    """A decorator factory: @scenario("name") runs the function now and stores its result
    (or the gRPC status it failed with) in out["name"]; with only, other names are skipped."""
    def scenario(name):
        def wrap(fn):
            if only and only != name:
                return fn
            try:
                out[name] = fn()
            except grpc.RpcError as e:
                out[name] = {"error": status_of(e)}
            return fn
        return wrap
    return scenario
