"""python3-grpcio against a Bunker node (init + apid in container mode), through apid over TLS.

Prints one JSON object: scenario -> outcome (or {"error": {code, details}}).
Usage: node_client.py --target 127.0.0.1:PORT --ca CA [--cert CRT --key KEY] --config FILE
                      [--maintenance] [--servername NAME]
--config is applied in maintenance mode, or sent as a dry run otherwise.
Without --cert the client presents no certificate (maintenance mode); --ca is then the node's
self-signed certificate.
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
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--config", required=True)
    ap.add_argument("--maintenance", action="store_true")
    ap.add_argument("--servername")
    a = ap.parse_args()

    read = lambda p: open(p, "rb").read() if p else None
    creds = grpc.ssl_channel_credentials(read(a.ca), read(a.key), read(a.cert))
    options = [("grpc.ssl_target_name_override", a.servername)] if a.servername else []
    channel = grpc.secure_channel(a.target, creds, options=options)
    stub = rpc.MachineServiceStub(channel)
    config = read(a.config)
    out = {}

    scenario = scenario_runner(out)

    @scenario("version")
    def _():
        v = stub.Version(pb.VersionRequest(), timeout=10)
        return {"version": v.version, "maintenance": v.maintenance, "bun": v.bun_version}

    if a.maintenance:
        @scenario("reboot")
        def _():
            stub.Reboot(pb.RebootRequest(), timeout=10)
            return {"unexpected": "no error"}

        @scenario("services")
        def _():
            stub.ServiceList(pb.ServiceListRequest(), timeout=10)
            return {"unexpected": "no error"}

        @scenario("apply")
        def _():
            r = stub.ApplyConfiguration(pb.ApplyConfigurationRequest(data=config), timeout=20)
            return {"mode": pb.ApplyMode.Name(r.mode), "message": r.message}
    else:
        @scenario("services")
        def _():
            r = stub.ServiceList(pb.ServiceListRequest(), timeout=10)
            return {s.id: s.state for s in r.services}

        @scenario("logs")
        def _():
            return {"lines": [e.message for e in stub.Logs(pb.LogsRequest(id="ticker", tail=3), timeout=10)]}

        @scenario("deadline")
        def _():
            got = []
            t0 = time.monotonic()
            try:
                for e in stub.Logs(pb.LogsRequest(id="ticker", tail=0, follow=True), timeout=1.5):
                    got.append(e.message)
                return {"unexpected": "the stream ended", "got": got}
            except grpc.RpcError as e:
                return {"error": status_of(e), "got": len(got), "seconds": time.monotonic() - t0}

        @scenario("dry_run")
        def _():
            r = stub.ApplyConfiguration(pb.ApplyConfigurationRequest(data=config, dry_run=True), timeout=20)
            return {"mode": pb.ApplyMode.Name(r.mode), "changes": [{"path": c.path, "effect": pb.ChangeEffect.Name(c.effect)} for c in r.changes]}

        @scenario("bad_config")
        def _():
            stub.ApplyConfiguration(pb.ApplyConfigurationRequest(data=b"version: v1alpha1\nmachine: {type: toaster}\n", dry_run=True), timeout=20)
            return {"unexpected": "no error"}

        @scenario("error")
        def _():
            stub.ServiceStart(pb.ServiceRequest(id="missing"), timeout=10)
            return {"unexpected": "no error"}

    channel.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
