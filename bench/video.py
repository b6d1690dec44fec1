"""P3 (DESIGN.md §8): streaming a 1 GiB recording, the viewer against nginx, five runs.

1. A real recording of about ``--size-mib`` MiB (MJPEG in AVI, built from a few encoded frames
   repeated, so it is quick to make and passes the PyAV probe).
2. Embedded PostgreSQL and nats-server, and video-svc as its own process (``python -m
   prisme_video``); the recording is uploaded through ``POST /v1/videos`` (curl -F, streamed),
   a contract is activated on the bus, a link is created and a viewer session opened.
3. nginx (Debian package) on a free loopback port with a temporary config serves the same
   plaintext bytes (sendfile on, access log off, one worker).
4. Each run, for 1 viewer and for ``--viewers`` concurrent viewers (each a curl to /dev/null):
   the whole file (``Range: bytes=0-``), then ``--ranges`` random 1 MiB ranges per viewer,
   from nginx and from the viewer (who goes first alternates); aggregate MiB/s and the ratio.
   Then random 1 MiB ranges one at a time for the time to first byte. The service's resident
   memory is sampled throughout (growth = peak - idle).

Targets: every ratio ≥ 0.9, first byte p95 < 50 ms, memory flat, in the worst of ``--runs``.

Usage: python bench/video.py [--size-mib 1024] [--runs 5] [--ranges 30] [--viewers 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import httpx
import psutil
from _runs import Runs, Target, add_runs_argument
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_events import ContractActivated
from prisme_localinfra import NatsServer, PostgresServer, free_port, wait_for_port
from prisme_testing import factories
from prisme_testing.events import publish_event

UNIQUE_FRAMES = 12


def make_recording(path: Path, size_mib: int) -> int:
    """An MJPEG/AVI of about ``size_mib`` MiB: a few noisy 1080p frames, repeated."""
    rng = random.Random(3)
    with av.open(str(path), mode="w", format="avi") as container:
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuvj420p"
        stream.codec_context.time_base = Fraction(1, 25)
        stream.codec_context.options = {"qmin": "1", "qmax": "1"}
        payloads: list[bytes] = []
        for i in range(UNIQUE_FRAMES):
            frame = av.VideoFrame(1920, 1080, "yuvj420p")
            for plane in frame.planes:
                plane.update(rng.randbytes(plane.buffer_size))
            frame.pts = i
            payloads += [bytes(p) for p in stream.encode(frame)]
        payloads += [bytes(p) for p in stream.encode(None)]
        frames = max(1, size_mib * 1024 * 1024 // len(payloads[0]))
        for i in range(frames):
            packet = av.Packet(payloads[i % len(payloads)])
            packet.stream = stream
            packet.pts = packet.dts = i
            packet.time_base = Fraction(1, 25)
            packet.is_keyframe = True
            container.mux(packet)
    return path.stat().st_size


def contract_event() -> ContractActivated:
    now = datetime.now(UTC)
    return factories.contract_activated(
        client=factories.client_snapshot(name="Cabinet bench", siren="123456789"),
        version=1,
        includes=[],
        start=now.date(),
        ends_at=now + timedelta(days=30),
        postes=1,
        peripherals=0,
    )


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    types {{ video/x-msvideo avi; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


class RssSampler:
    """Peak resident memory of a process, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def curl(url: str, byte_range: str, cookie: str | None = None) -> tuple[float, float, int]:
    """(seconds total, seconds to first byte, bytes) of one GET with a Range header."""
    cmd = ["curl", "-s", "-o", "/dev/null", "-H", f"Range: bytes={byte_range}"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    cmd += ["-w", "%{http_code} %{time_total} %{time_starttransfer} %{size_download}", url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
    if out[0] != "206":
        raise RuntimeError(f"{url} answered {out[0]}")
    return float(out[1]), float(out[2]), int(out[3])


def fetch(url: str, byte_range: str, cookie: str | None = None) -> bytes:
    cmd = ["curl", "-s", "-H", f"Range: bytes={byte_range}"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    return subprocess.run([*cmd, url], check=True, capture_output=True).stdout


TARGETS = [
    Target("whole_1_ratio", "P3 video, whole file, 1 viewer / nginx", at_least=0.9),
    Target("whole_many_ratio", "P3 video, whole file, 20 viewers / nginx", at_least=0.9),
    Target("ranges_1_ratio", "P3 video, 1 MiB ranges, 1 viewer / nginx", at_least=0.9),
    Target("ranges_many_ratio", "P3 video, 1 MiB ranges, 20 viewers / nginx", at_least=0.9),
    Target("ttfb_viewer_p95_ms", "P3 video, first byte p95", below=50, unit="ms"),
    Target("rss_growth_mib", "P3 video, memory growth while streaming", below=64, unit="MiB"),
]


def q(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(p * len(values)))]


def random_spans(rng: random.Random, size: int, n: int) -> list[str]:
    spans = []
    for _ in range(n):
        start = rng.randrange(size - 2**20)
        spans.append(f"{start}-{start + 2**20 - 1}")
    return spans


def concurrent_rate(url: str, spans_per_viewer: list[list[str]], cookie: str | None) -> float:
    """MiB/s over all viewers: each viewer (a thread running curl) reads its spans in turn."""

    def viewer(spans: list[str]) -> int:
        return sum(curl(url, span, cookie)[2] for span in spans)

    start = time.perf_counter()
    with ThreadPoolExecutor(len(spans_per_viewer)) as pool:
        got = sum(pool.map(viewer, spans_per_viewer))
    return got / (time.perf_counter() - start) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--ranges", type=int, default=30, help="1 MiB ranges per viewer")
    parser.add_argument("--viewers", type=int, default=20)
    add_runs_argument(parser)
    args = parser.parse_args()
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        sys.exit("nginx is required: apt-get install -y nginx")
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"

    tmp = Path(tempfile.mkdtemp(prefix="prisme-video-bench-"))
    www = tmp / "www"
    www.mkdir()
    recording = www / "recording.avi"
    started = time.perf_counter()
    size = make_recording(recording, args.size_mib)
    print(f"recording: {size / 2**20:.0f} MiB in {time.perf_counter() - started:.1f} s")

    pg = PostgresServer(tmp / "pg", durable=False)
    nats_server = NatsServer(tmp / "nats")
    service: subprocess.Popen[bytes] | None = None
    nginx: subprocess.Popen[bytes] | None = None
    pg.start()
    nats_server.start()
    try:
        private, public = generate_keypair()
        token = mint_token(private, sub="op-bench", scopes=["admin"])
        port = free_port()
        env = {
            **os.environ,
            "PRISME_ENV": "test",
            "PRISME_NATS_URL": nats_server.url,
            "PRISME_VIDEO_DATABASE_URL": pg.create_database("video_bench"),
            "PRISME_JWT_PUBLIC_KEY": public,
            "PRISME_HTTP_PORT": str(port),
            "PRISME_DATA_DIR": str(tmp / "video-data"),
            "PRISME_LOG_LEVEL": "WARNING",
        }
        service = subprocess.Popen(
            [sys.executable, "-m", "prisme_video"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "service.log").open("wb"),
        )
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or service.poll() is not None:
                    sys.exit(f"video-svc did not start; see {tmp / 'service.log'}")
                time.sleep(0.1)
            event = contract_event()
            asyncio.run(publish_event(nats_server.url, event))

            started = time.perf_counter()
            upload_cmd = [
                "curl", "-s", "-f", "-H", f"Authorization: Bearer {token}",
                "-F", f"client_id={event.client_id}", "-F", f"contract_id={event.contract_id}",
                "-F", "title=Bench", "-F", f"file=@{recording};type=video/x-msvideo",
                f"{base}/v1/videos",
            ]  # fmt: skip
            with RssSampler(service.pid) as upload_rss:
                upload = subprocess.run(upload_cmd, check=True, capture_output=True, text=True)
            upload_s = time.perf_counter() - started
            video_id = httpx.Response(200, content=upload.stdout).json()["id"]
            print(
                f"upload (stream + encrypt + probe): {size / 2**20 / upload_s:.0f} MiB/s, "
                f"video-svc peak RSS {upload_rss.peak / 2**20:.0f} MiB"
            )

            deadline = time.monotonic() + 10
            while (
                link := client.post(f"/v1/videos/{video_id}/links", headers=auth)
            ).status_code != 201:
                if time.monotonic() > deadline:
                    sys.exit(f"no link: {link.text}")
                time.sleep(0.1)
            path = "/v/" + link.json()["url"].rsplit("/v/", 1)[1]
            login = client.post(path, data={"password": link.json()["password"]})
            assert login.status_code == 303, login.text
            cookie = f"prisme_video_session={login.cookies['prisme_video_session']}"

        nginx_port = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=nginx_port, root=www))
        nginx = subprocess.Popen([nginx_bin, "-c", str(conf), "-p", str(tmp)])
        wait_for_port(nginx_port)

        viewer_url = f"{base}{path}/stream"
        nginx_url = f"http://127.0.0.1:{nginx_port}/recording.avi"
        rng = random.Random(11)
        for _ in range(5):  # same bytes from both
            start = rng.randrange(size - 2**20)
            span = f"{start}-{start + 2**20 - 1}"
            if fetch(viewer_url, span, cookie) != fetch(nginx_url, span):
                sys.exit("the viewer and nginx disagree on the bytes")

        rss_idle = psutil.Process(service.pid).memory_info().rss
        runs = Runs(f"P3 video, {size / 2**20:.0f} MiB", TARGETS, args.runs)
        servers = (("nginx", nginx_url, None), ("viewer", viewer_url, cookie))
        for _ in runs:
            figures: dict[str, float] = {}
            with RssSampler(service.pid) as sampler:
                for viewers in (1, args.viewers):
                    # whole file (Range bytes=0-), then 1 MiB ranges, each viewer its own curl
                    for kind in ("whole", "ranges"):
                        rate: dict[str, float] = {}
                        for name, url, ck in servers if _ % 2 == 0 else servers[::-1]:
                            spans = (
                                [["0-"]] * viewers
                                if kind == "whole"
                                else [random_spans(rng, size, args.ranges) for _ in range(viewers)]
                            )
                            rate[name] = concurrent_rate(url, spans, ck)
                        key = f"{kind}_{'1' if viewers == 1 else 'many'}"
                        figures[f"{key}_nginx_mibs"] = rate["nginx"]
                        figures[f"{key}_viewer_mibs"] = rate["viewer"]
                        figures[f"{key}_ratio"] = rate["viewer"] / rate["nginx"]
                ttfb: dict[str, list[float]] = {"viewer": [], "nginx": []}
                for span in random_spans(rng, size, args.ranges):
                    ttfb["nginx"].append(curl(nginx_url, span)[1] * 1000)
                    ttfb["viewer"].append(curl(viewer_url, span, cookie)[1] * 1000)
            figures["ttfb_nginx_median_ms"] = statistics.median(ttfb["nginx"])
            figures["ttfb_viewer_median_ms"] = statistics.median(ttfb["viewer"])
            figures["ttfb_viewer_p95_ms"] = q(ttfb["viewer"], 0.95)
            figures["rss_growth_mib"] = (sampler.peak - rss_idle) / 2**20
            runs.record(figures)
        print(
            f"  video-svc RSS idle {rss_idle / 2**20:.0f} MiB; growth = peak while streaming - idle"
        )
        return runs.finish()
    finally:
        for proc in (nginx, service):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        nats_server.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
