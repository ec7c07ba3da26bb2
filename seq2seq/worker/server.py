"""`python -m seq2seq serve`: the worker's aiohttp app, its middlewares (auth, errors, metrics) and main."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
import sys

from aiohttp import web

from seq2seq import model_dir
from seq2seq.engine.device import default_compute_type, pick_device
from seq2seq.engine.options import EngineOptions
from seq2seq.protocol import clip, error_body
from seq2seq.worker import routes
from seq2seq.worker.batcher import Batcher, DeadlineExceeded, NotReady, QueueFull
from seq2seq.worker.connections import ConnectionGuard, GuardedSite, connection_cap
from seq2seq.worker.imports import ImportRefused
from seq2seq.worker.jobs import JobConflict, JobManager, UnknownJob
from seq2seq.worker.logs import quiet_noisy_loggers
from seq2seq.worker.metrics import WorkerMetrics
from seq2seq.worker.registry import (
    ActivationError,
    GateRejected,
    Registry,
    RegistryWriteError,
    UnknownVersion,
    VersionRetired,
    is_v1,
)
from seq2seq.worker.settings import TOKEN_ENV, SettingsError, WorkerSettings, load

log = logging.getLogger("banter.worker")
MAX_MESSAGE_CHARS = 1000  # an error message quotes caller input at most this long in all (each quote is clipped too)

# Exceptions of the parts below the HTTP layer → (status, extra headers).
ERRORS = {
    UnknownVersion: (404, {}),
    UnknownJob: (404, {}),
    JobConflict: (409, {}),
    FileExistsError: (409, {}),
    VersionRetired: (409, {}),
    GateRejected: (409, {}),
    ImportRefused: (403, {}),
    ActivationError: (422, {}),
    RegistryWriteError: (507, {}),
    QueueFull: (503, {"Retry-After": "1"}),
    NotReady: (503, {"Retry-After": "1"}),
    DeadlineExceeded: (504, {}),
}


def _decode(model, conversations, options, should_stop):
    return model.engine.reply_batch(conversations, options, should_stop=should_stop)


def engine_args(settings: WorkerSettings) -> dict:
    """How every version's engine is opened: one replica per decode thread, each on one core (two intra-op
    threads were 5x slower at batch 1 on a 2-core CPU); the [decoding] seed seeds sampling."""
    return {
        "device": settings.device,
        "inter_threads": settings.decode_threads,
        "intra_threads": 1,
        "seed": settings.decoding.seed,
    }


class Worker:
    """Everything one worker process owns; the routes reach it through app['worker']."""

    def __init__(self, settings: WorkerSettings):
        self.settings = settings
        self.metrics = WorkerMetrics()
        self.registry = Registry(
            settings.models, keep=settings.keep_versions, metrics=self.metrics, engine_args=engine_args(settings)
        )
        self.batcher: Batcher | None = None
        self.jobs = JobManager(
            self.registry,
            margin=settings.gate_margin,
            replay_fraction=settings.replay_fraction,
            keep_jobs=settings.max_jobs_kept,
            metrics=self.metrics,
        )

    def start_batcher(self) -> None:
        s = self.settings
        self.batcher = Batcher(
            _decode,
            lambda: self.registry.current,
            max_batch_size=s.max_batch_size,
            batch_timeout_s=s.batch_timeout_ms / 1000,
            max_queue=s.max_queue,
            threads=s.decode_threads,
            cost=lambda options: options.cost,  # EngineOptions: in pieces
            # No batch costs more than a full batch of default replies: that bounds how long anyone waits.
            max_batch_cost=s.max_batch_size * EngineOptions.from_decode_options(s.decoding).cost,
            metrics=self.metrics,
        )
        self.batcher.start()

    async def load_models(self) -> None:
        self.registry.clean_temp()
        self.jobs.load_history()
        await self.registry.start()

    async def stop(self) -> None:
        await self.jobs.shutdown()
        if self.batcher:
            await self.batcher.stop()


@web.middleware
async def count_requests(request: web.Request, handler):
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"  # templates, so ids never explode the labels
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app["worker"].metrics.requests.labels(name, str(status)).inc()


@web.middleware
async def json_errors(request: web.Request, handler):
    """Every error is JSON with a message a person can act on; no traceback leaves the worker."""
    try:
        return await handler(request)
    except routes.ApiError as exc:
        status, message, headers = exc.status, exc.message, exc.headers
    except web.HTTPException as exc:  # aiohttp's own: 404 no route, 405 wrong method, 413
        if exc.status < 400:
            raise
        status, message, headers = exc.status, exc.reason, {k: v for k, v in exc.headers.items() if k == "Allow"}
    except tuple(ERRORS) as exc:
        status, headers = next(v for k, v in ERRORS.items() if isinstance(exc, k))
        message = str(exc)
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        status, message, headers = 500, "internal error in the worker (see its log)", {}
    response = routes.json_response(error_body(status, clip(message, MAX_MESSAGE_CHARS)), status=status)
    response.headers.update(headers)
    return response


def bearer_auth(token: str):
    expected = token.encode()

    @web.middleware
    async def check(request: web.Request, handler):
        # The scheme is case-insensitive (RFC 9110); undecodable bytes compare as what they are, never raise.
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        given_bytes = given.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given_bytes, expected):  # constant time; never logged
            raise routes.ApiError(
                401, "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="banter-worker"'}
            )
        return await handler(request)

    return check


def build_app(worker: Worker, guard: ConnectionGuard | None = None) -> web.Application:
    middlewares = ([guard.middleware] if guard else []) + [count_requests, json_errors]
    if worker.settings.token:
        middlewares.append(bearer_auth(worker.settings.token))
    app = web.Application(middlewares=middlewares, client_max_size=routes.MAX_JOB_BODY)
    app["worker"] = worker
    routes.add_routes(app)
    return app


def accelerator_note(device: str) -> str:
    """Where replies decode and fine-tuning trains, without importing TensorFlow into the serving process."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return (
        f"accelerator: replies decode through CTranslate2 on {device} ({default_compute_type(device)}); "
        f"fine-tuning jobs train through Keras ({backend}) and log the device they got"
    )


async def serve(settings: WorkerSettings, ready: asyncio.Event | None = None) -> None:
    quiet_noisy_loggers()
    worker = Worker(settings)
    worker.start_batcher()
    guard = ConnectionGuard(connection_cap(settings.max_connections), settings.header_timeout_s)
    runner = web.AppRunner(
        build_app(worker, guard),
        access_log=None,
        shutdown_timeout=settings.request_timeout_s,
        handle_signals=False,
        keepalive_timeout=settings.idle_timeout_s,  # aiohttp's default is an hour
    )
    await runner.setup()
    site = GuardedSite(runner, guard, settings.host, settings.port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.port
    # Bound before loading: /healthz answers at once, /readyz says 503 until a model is active.
    log.info(
        "listening on http://%s:%d (%s)",
        settings.host,
        port,
        "bearer token required" if settings.token else "loopback only, no token",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.load_models()
        if ready:
            ready.set()
        await stop.wait()
        log.info("stopping: finishing requests in flight")
    finally:
        await runner.cleanup()  # stops listening, then waits for handlers: in-flight replies still decode
        await worker.stop()


def main(args) -> int:
    logging.basicConfig(
        level=os.environ.get("BANTER_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        settings = load(args.config, models=args.models, host=args.host, port=args.port)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info(
        "models in %s; batches of up to %d, %g ms to fill, queue %d, deadline %g s; %s",
        settings.models.resolve(),
        settings.max_batch_size,
        settings.batch_timeout_ms,
        settings.max_queue,
        settings.request_timeout_s,
        f"auth: {TOKEN_ENV} is set" if settings.token else "auth: off",
    )
    if is_v1(settings.models):
        print(
            f"error: {settings.models} is a retired v1 model ({model_dir.V1_RETIRED}); serve takes the folder of "
            f"model versions (such as models/), where it lists v1 versions as retired and serves v2: "
            f"{model_dir.V1_ADVICE}",
            file=sys.stderr,
        )
        return 2
    try:
        device = pick_device(settings.device)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info("%s", accelerator_note(device))
    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    return 0
