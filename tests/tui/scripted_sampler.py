"""A stand-in for `python -m engine.sampler` that speaks its protocol without torch.

It streams a fixed text at a fixed rate, so tests and the TUI benchmark can drive the
generation pane deterministically: `NANOGPT_TUI_SAMPLER="python scripted_sampler.py --cps 1000"`.
Like the real sampler it refuses prompts with characters outside its vocabulary (here: ASCII).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n")
CHUNK_S = 0.015  # the real sampler coalesces text for about this long


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cps", type=float, default=2000.0, help="characters per second")
    parser.add_argument("--load-s", type=float, default=0.0, help="pretend checkpoint load time")
    args = parser.parse_args()
    stop = threading.Event()
    requests: list[dict] = []
    arrived = threading.Condition()

    def read_stdin() -> None:
        for line in sys.stdin:
            message = json.loads(line)
            if message["op"] == "stop":
                stop.set()
            with arrived:
                requests.append(message)
                arrived.notify()
        with arrived:
            requests.append({"op": "quit"})
            arrived.notify()

    threading.Thread(target=read_stdin, daemon=True).start()
    emit({"event": "ready"})
    while True:
        with arrived:
            arrived.wait_for(lambda: requests)
            request = requests.pop(0)
        if request["op"] == "quit":
            return
        if request["op"] == "sample":
            stop.clear()
            serve(request, args, stop)


def serve(request: dict, args: argparse.Namespace, stop: threading.Event) -> None:
    rid = request["id"]
    unknown = sorted({ch for ch in request["prompt"] if not ch.isascii()})
    if unknown:
        named = ", ".join(map(repr, unknown))
        emit({"event": "error", "id": rid,
              "message": f"prompt has characters the model never saw: {named}"})
        return
    time.sleep(args.load_s)
    emit({"event": "loaded", "id": rid, "run_dir": request["run_dir"],
          "checkpoint": request["checkpoint"], "step": 100, "params": 26816, "load_s": args.load_s})
    start = time.perf_counter()
    sent = 0
    first = None
    while sent < request["chars"] and not stop.is_set():
        due = min(request["chars"], int((time.perf_counter() - start) * args.cps) + 1)
        if due > sent:
            text = "".join(TEXT[i % len(TEXT)] for i in range(sent, due))
            emit({"event": "text", "id": rid, "text": text})
            first = first or time.perf_counter() - start
            sent = due
        time.sleep(CHUNK_S)
    seconds = time.perf_counter() - start
    emit({"event": "done", "id": rid, "chars": sent, "seconds": seconds,
          "chars_per_s": sent / seconds if seconds else 0.0, "first_char_s": first,
          "stopped": stop.is_set(), "seed": request["seed"]})


if __name__ == "__main__":
    main()
