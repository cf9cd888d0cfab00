"""gRPC interop server (Debian python3-grpcio) for Bunker's client.

Serves part of MachineService over mTLS and prints "PORT <n>" once listening.
Version: echoes request metadata in the response (hostname = JSON) and sends metadata both ways.
Logs: id "missing" -> NOT_FOUND; id "follow" streams until cancelled (counted); else `tail` lines.
Hostname: sleeps past any deadline. Reboot: reports how many Logs streams saw their cancellation.
Usage: server.py --ca CA --cert CRT --key KEY
"""
import argparse
import json
import sys
import threading
import time
from concurrent import futures

import grpc
from bunker.machine.v1 import machine_pb2 as pb
from bunker.machine.v1 import machine_pb2_grpc as rpc

cancelled = {"n": 0}
lock = threading.Lock()


class Machine(rpc.MachineServiceServicer):
    def Version(self, request, context):
        md = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in context.invocation_metadata()}
        context.send_initial_metadata([("x-served-by", "python")])
        context.set_trailing_metadata([("x-count-bin", b"\x01\x02")])
        return pb.VersionResponse(version="py-1", hostname=json.dumps(md))

    def Logs(self, request, context):
        if request.id == "missing":
            context.abort(grpc.StatusCode.NOT_FOUND, "service «missing» not found")
        if request.id == "follow":
            done = threading.Event()

            def on_done():
                if not context.is_active():
                    with lock:
                        cancelled["n"] += 1
                done.set()

            context.add_callback(on_done)
            i = 0
            while not done.is_set() and i < 3000:
                yield pb.LogEntry(message="f%d" % i)
                i += 1
                time.sleep(0.01)
            return
        for i in range(request.tail):
            yield pb.LogEntry(message="line %d" % i)

    def Hostname(self, request, context):
        time.sleep(2)
        return pb.HostnameResponse(hostname="late")

    def Reboot(self, request, context):
        with lock:
            return pb.RebootResponse(actor_id=str(cancelled["n"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    a = ap.parse_args()
    read = lambda p: open(p, "rb").read()
    creds = grpc.ssl_server_credentials([(read(a.key), read(a.cert))], root_certificates=read(a.ca),
                                        require_client_auth=True)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    rpc.add_MachineServiceServicer_to_server(Machine(), server)
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    print("PORT %d" % port, flush=True)
    # Ends when the test closes our stdin (or kills us).
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
