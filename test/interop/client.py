"""gRPC interop client (Debian python3-grpcio) for Bunker's server.

Runs every scenario against the server and prints one JSON object: scenario -> outcome.
Stubs come from the .proto files via grpc_tools.protoc into a directory on PYTHONPATH.
Usage: client.py --target 127.0.0.1:PORT --ca CA --cert CRT --key KEY
       client.py --target unix:/path/to.sock
       client.py --target ... --only NAME   (one scenario, e.g. for a no-cert client)
"""
import argparse
import json
import sys
import time

import grpc
from bunker.machine.v1 import machine_pb2 as pb
from bunker.machine.v1 import machine_pb2_grpc as rpc
from scenarios import scenario_runner, status_of



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--only")
    a = ap.parse_args()

    if a.ca:
        read = lambda p: open(p, "rb").read() if p else None
        creds = grpc.ssl_channel_credentials(read(a.ca), read(a.key), read(a.cert))
        channel = grpc.secure_channel(a.target, creds)
    else:
        channel = grpc.insecure_channel(a.target)
    stub = rpc.MachineServiceStub(channel)
    out = {}

    scenario = scenario_runner(out, a.only)

    @scenario("unary")
    def _():
        resp, call = stub.Version.with_call(
            pb.VersionRequest(), timeout=10,
            metadata=[("x-trace", "abc-123"), ("x-blob-bin", b"\x00\x01\xfe\xff")])
        return {
            "version": resp.version, "hostname": resp.hostname,
            "initial": {k: (v.hex() if isinstance(v, bytes) else v) for k, v in call.initial_metadata()},
            "trailing": {k: (v.hex() if isinstance(v, bytes) else v) for k, v in call.trailing_metadata()},
        }

    @scenario("stream")
    def _():
        return {"lines": [e.message for e in stub.Logs(pb.LogsRequest(id="kubelet", tail=5), timeout=10)]}

    @scenario("error")
    def _():
        list(stub.Logs(pb.LogsRequest(id="missing"), timeout=10))
        return {"unexpected": "no error"}

    @scenario("unary_error")
    def _():
        stub.ServiceStart(pb.ServiceRequest(id="missing"), timeout=10)
        return {"unexpected": "no error"}

    @scenario("deadline")
    def _():
        t0 = time.monotonic()
        try:
            stub.Hostname(pb.HostnameRequest(), timeout=0.3)
            return {"unexpected": "no error"}
        except grpc.RpcError as e:
            return {"error": status_of(e), "seconds": time.monotonic() - t0}

    @scenario("cancel")
    def _():
        it = stub.Logs(pb.LogsRequest(id="follow", follow=True), timeout=30)
        got = [next(it).message, next(it).message]
        it.cancel()
        return {"got": got}

    @scenario("too_large")
    def _():
        stub.ApplyConfiguration(pb.ApplyConfigurationRequest(data=b"x" * (5 * 1024 * 1024)), timeout=20)
        return {"unexpected": "no error"}

    @scenario("unimplemented")
    def _():
        stub.Upgrade(pb.UpgradeRequest(image="x"), timeout=10)
        return {"unexpected": "no error"}

    @scenario("after")
    def _():
        return {"version": stub.Version(pb.VersionRequest(), timeout=10).version}

    channel.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
