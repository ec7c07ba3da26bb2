"""Model v2's training entry: subword pairs, the Transformer with warm-up then cosine decay, the exported engine.

The same loop trains the LSTM network (`seq2seq.model.lstm`, an `LSTMConfig`) on subword pieces, for comparing the
architectures at one tokenizer; that directory is v1's layout with the tokenizer beside it (`save_subword_lstm`).

The splits, one step, the best weights' copy and Ctrl-C handling are `seq2seq.train.loop`'s, checkpoints
`seq2seq.train.checkpoint`'s. It writes `out/weights.npz` (Keras arrays, to fine-tune from), `out/transformer.json`,
`out/metrics.json`, `out/heldout.tsv` and `out/engine/` (`engine.convert.export`: what serves; a fine-tune's
server words beside it, `engine.copying`).

    python -m seq2seq train --preset default --out models/v2   (cli.py parses; this module trains)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.engine import copying
from seq2seq.eval.scoring import score
from seq2seq.model.config import LSTMConfig, TransformerConfig
from seq2seq.model.presets import TransformerTrainConfig, preset
from seq2seq.text.corpus import Pair, write_tsv
from seq2seq.text.subword import SubwordSettings, SubwordTokenizer
from seq2seq.text.vocab import SEP_ID
from seq2seq.text.words import tokenize
from seq2seq.train import checkpoint
from seq2seq.train.batching import BatchSchedule, EncodedPairs
from seq2seq.train.distill import Distillation, Distiller, ServerWords, soft_loss, word_openings
from seq2seq.train.loop import Interrupted, StopFlag, save_best, split_three, train_step
from seq2seq.train.reporting import Progress, Scalars, plot_losses

ENGINE_DIR = model_dir.ENGINE_DIR


@dataclass
class TransformerJob:
    pairs: list[Pair]
    out_dir: Path
    run_dir: Path
    model_config: TransformerConfig | LSTMConfig  # LSTMConfig: the LSTM, for comparisons
    train_config: TransformerTrainConfig
    resume: bool = False
    quiet: bool = False
    max_steps: int | None = None  # stop early (tests, speed estimates); the schedule keeps its length
    tokenizer: SubwordTokenizer | None = None  # fine-tuning keeps the model's tokenizer
    init_weights: dict[str, np.ndarray] | None = None
    command: str = ""
    distill: Distillation | None = None  # a fine-tune's pull toward init_weights (seq2seq.train.distill)
    on_step: Callable[[int, int, float], None] | None = None  # after every step: (step, total steps, its loss)


def encode_pairs(pairs: list[Pair], tokenizer: SubwordTokenizer, config: TransformerConfig, target_len: int):
    """Source = previous turn, SEP, message (cut from the left); target = reply pieces (cut) + EOS."""
    sources, targets = [], []
    for p in pairs:
        src = tokenizer.encode_source([p.context, p.query], config.max_source_len, config.context_turns, p.server)
        sources.append(np.asarray(src or [SEP_ID], dtype=np.int32))  # an empty message still gets an answer
        targets.append(np.asarray(tokenizer.encode_target(p.reply, target_len), dtype=np.int32))
    return EncodedPairs(sources, targets)


def warmup_cosine(peak: float, warmup: int, total: int, floor_ratio: float):
    """Keras schedule: linear warm-up to `peak`, then cosine decay to `floor_ratio × peak` at `total`."""
    import keras
    from keras import ops

    class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            step = ops.cast(step, "float32")
            warm = peak * (step + 1.0) / max(warmup, 1)
            progress = ops.clip((step - warmup) / max(total - warmup, 1), 0.0, 1.0)
            decayed = peak * (floor_ratio + (1.0 - floor_ratio) * 0.5 * (1.0 + ops.cos(math.pi * progress)))
            return ops.where(step < warmup, warm, decayed)

        def get_config(self):
            return {"peak": peak, "warmup": warmup, "total": total, "floor_ratio": floor_ratio}

    return WarmupCosine()


def run(job: TransformerJob) -> dict:
    import keras

    from seq2seq.engine.convert import export
    from seq2seq.model.transformer import build, smoothed_loss

    lstm = isinstance(job.model_config, LSTMConfig)
    if lstm:
        from seq2seq.model.lstm import build
    cfg = job.train_config
    keras.utils.set_random_seed(cfg.seed)
    job.run_dir.mkdir(parents=True, exist_ok=True)
    log = (lambda *_: None) if job.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    train_pairs, val_pairs, test_pairs = split_three(job.pairs, cfg)
    if cfg.val_fraction == 0:
        val_pairs = train_pairs  # a deliberate choice for tiny data sets: watch the training pairs
    if not train_pairs or not val_pairs:
        raise ValueError(f"need more pairs: {len(train_pairs)} for training, {len(val_pairs)} for validation")
    tokenizer = job.tokenizer or _tokenizer(train_pairs, cfg, job.run_dir, job.resume)
    mcfg = replace(job.model_config, vocab_size=len(tokenizer))
    train_data = encode_pairs(train_pairs, tokenizer, mcfg, mcfg.max_target_len)
    val_data = encode_pairs(val_pairs, tokenizer, mcfg, mcfg.max_target_len)
    schedule = BatchSchedule(train_data, cfg.batch_size, cfg.seed, bucket=cfg.bucket)
    total_steps = cfg.max_steps
    stop_at = min(total_steps, job.max_steps or total_steps)
    log(
        f"pairs: {len(train_pairs)} train, {len(val_pairs)} validation, {len(test_pairs)} test; "
        f"{len(tokenizer)} pieces; {schedule.steps_per_epoch} steps an epoch, {total_steps} scheduled"
    )

    model = build(mcfg)
    if job.init_weights is not None:
        model_dir.assign_weights(model, job.init_weights, "initial weights")
    optimizer = keras.optimizers.AdamW(
        warmup_cosine(cfg.learning_rate, cfg.warmup_steps, total_steps, cfg.min_lr_ratio),
        weight_decay=cfg.weight_decay,
        beta_2=0.98,
        global_clipnorm=cfg.clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    # The LSTM's config has no label smoothing of its own: it gets the Transformer's, so only the network differs.
    smoothing = TransformerConfig.label_smoothing if lstm else mcfg.label_smoothing
    server_words = _server_words(train_pairs, train_data, tokenizer)
    distiller = _distiller(job, mcfg, smoothing, server_words)
    model.compile(optimizer=optimizer, loss=soft_loss if distiller else smoothed_loss(smoothing))
    state = {"step": 0, "best_val": math.inf, "bad_evals": 0, "history": {"train": [], "val": []}, "seconds": 0.0}
    state["tokens"] = 0
    if job.resume and (restored := checkpoint.load(job.run_dir, model)):
        state = restored
        log(f"resumed at step {state['step']} of {stop_at}")
    state.setdefault("commands", []).append(job.command)
    best_file = job.run_dir / "best.weights.npz"
    if state["step"] == 0 or not best_file.exists():
        save_best(model, best_file)

    scalars = Scalars(job.run_dir / "tensorboard")
    progress = Progress(stop_at, state["step"], job.quiet)
    stop = StopFlag()
    started, seconds_before = time.perf_counter(), state["seconds"]
    try:
        while state["step"] < stop_at and not _patience_spent(cfg, state) and state["seconds"] < cfg.max_seconds:
            loss, tokens = train_step(model, schedule, state, distiller.targets if distiller else None)
            state["seconds"] = seconds_before + time.perf_counter() - started
            progress.update(loss, tokens)
            if job.on_step is not None:
                job.on_step(state["step"], stop_at, loss)
            if state["step"] % 20 == 0:
                state["history"]["train"].append((state["step"], loss))
                scalars.add("train/loss", loss, state["step"])
            if state["step"] % cfg.eval_every == 0:
                _validate(model, val_data, cfg.bucket, state, best_file, scalars, progress)
            if state["step"] % cfg.checkpoint_every == 0 or stop.raised:
                checkpoint.save(job.run_dir, model, state)
                if stop.raised:
                    raise Interrupted(f"stopped at step {state['step']}; continue with --resume")
        if not state["history"]["val"] or state["history"]["val"][-1][0] != state["step"]:
            _validate(model, val_data, cfg.bucket, state, best_file, scalars, progress)
        checkpoint.save(job.run_dir, model, state)
    finally:
        progress.close()
        scalars.close()
        stop.restore()

    if cfg.keep_best:
        with np.load(best_file) as data:
            model_dir.assign_weights(model, {k: data[k] for k in data.files}, str(best_file))
    metrics = _final_metrics(model, tokenizer, mcfg, cfg.bucket, val_data, test_pairs, state, len(train_pairs))
    weights = model_dir.weights_of(model)
    if lstm:
        save_subword_lstm(job.out_dir, mcfg, cfg.to_dict(), weights, tokenizer, job.command, metrics, test_pairs)
        plot_losses(state["history"], job.out_dir / model_dir.LOSS_CHART_FILE, title="LSTM on subword pieces")
        return metrics
    # The engine first: a directory is a v2 model once transformer.json exists, so that file comes after it.
    export(job.out_dir / ENGINE_DIR, mcfg, weights, tokenizer)
    piece = tokenizer.sp.id_to_piece
    copying.write_words(job.out_dir / ENGINE_DIR, [[piece(i) for i in w] for w in server_words.words])
    if test_pairs:
        write_tsv(test_pairs, job.out_dir / model_dir.HELDOUT_FILE)
    model_dir.save_transformer(job.out_dir, mcfg, cfg.to_dict(), weights, job.command, metrics)
    plot_losses(state["history"], job.out_dir / model_dir.LOSS_CHART_FILE, title="Banter reply model v2")
    log(json.dumps({k: metrics.get(k) for k in ("val_perplexity", "test_word_perplexity", "steps_per_second")}))
    return metrics


def save_subword_lstm(out: Path, mcfg: LSTMConfig, train: dict, weights, tokenizer, command, metrics, test) -> None:
    """v1's layout (config.json, weights.npz) with the pieces as its vocabulary and the tokenizer beside them
    (subword.model, subword.json): `seq2seq.evaluate` scores it by the tokenizer; no engine serves it."""
    from seq2seq.text.vocab import Vocabulary

    extra = {"train": train, "command": command, "tokenizer": "subword"}
    model_dir.save(out, mcfg, Vocabulary(tuple(tokenizer.pieces)), weights, extra=extra, metrics=metrics)
    tokenizer.save(out)
    if test:
        write_tsv(test, out / model_dir.HELDOUT_FILE)


def _tokenizer(pairs: list[Pair], cfg: TransformerTrainConfig, run_dir: Path, resume: bool) -> SubwordTokenizer:
    """Trained on the training split's turns only (held-out text never shapes the pieces); kept for --resume."""
    folder = run_dir / "tokenizer"
    if resume and (folder / "subword.model").exists():
        return SubwordTokenizer.load(folder)
    texts = list(dict.fromkeys(t for p in pairs for t in (p.context, p.query, p.reply) if t))
    tokenizer = SubwordTokenizer.train(texts, SubwordSettings(vocab_size=cfg.vocab_size))
    tokenizer.save(folder)
    return tokenizer


def _server_words(pairs: list[Pair], data: EncodedPairs, tokenizer: SubwordTokenizer) -> ServerWords:
    """The server's words, found in its own pairs (tagged) against the replayed ones; none without tagged pairs."""
    openings = word_openings(tokenizer.pieces)
    if not any(p.server for p in pairs):
        return ServerWords(openings)
    # Each new pair counted once, however many epochs the mix repeats it.
    new = {p: t for p, t in zip(pairs, data.targets, strict=True) if p.server}
    base = [t for p, t in zip(pairs, data.targets, strict=True) if not p.server]
    return ServerWords.find(openings, list(new.values()), base)


def _distiller(job: TransformerJob, mcfg, smoothing: float, words: ServerWords):
    """The frozen starting model as a teacher, when the job distils toward it (a fine-tune of the Transformer),
    learning the server's words from its log alone."""
    if job.distill is None or job.init_weights is None or isinstance(mcfg, LSTMConfig):
        return None
    from seq2seq.model.transformer import build

    teacher = build(mcfg)
    model_dir.assign_weights(teacher, job.init_weights, "the distillation teacher")
    return Distiller(teacher, mcfg.vocab_size, job.distill, smoothing, words)


def _patience_spent(cfg: TransformerTrainConfig, state: dict) -> bool:
    return cfg.keep_best and state["bad_evals"] >= cfg.patience


def _validate(model, val_data, bucket, state, best_file, scalars, progress) -> None:
    result = score(model, val_data, bucket=bucket)
    state["history"]["val"].append((state["step"], result["nll"]))
    scalars.add("val/loss", result["nll"], state["step"])
    scalars.flush()
    if result["nll"] < state["best_val"] - 1e-4:
        state["best_val"], state["bad_evals"] = result["nll"], 0
        save_best(model, best_file)
    else:  # no learning-rate cut on a plateau: the schedule decays it
        state["bad_evals"] += 1
    progress.write(f"step {state['step']}: validation perplexity per piece {result['perplexity']:.2f}")


def _final_metrics(model, tokenizer, mcfg, bucket, val_data, test_pairs, state, n_train) -> dict:
    metrics = {
        "val_perplexity": score(model, val_data, bucket=bucket)["perplexity"],  # per piece, EOS included
        "steps": state["step"],
        "train_pairs": n_train,
        "train_seconds": state["seconds"],
        "steps_per_second": state["step"] / max(state["seconds"], 1e-9),
        "tokens_per_second": state["tokens"] / max(state["seconds"], 1e-9),
        "params": int(sum(np.prod(v.shape) for v in model.trainable_weights)),
        "command": state["commands"][0],
        "commands": state["commands"],
    }
    if test_pairs:
        # Word perplexity: the whole reply's NLL (every piece and EOS) ÷ (v1-tokenizer words + 1), so v1 compares.
        whole = mcfg.positions - 1 if isinstance(mcfg, TransformerConfig) else 1_000_000  # an LSTM has no table
        data = encode_pairs(test_pairs, tokenizer, mcfg, whole)
        test = score(model, data, bucket=bucket)
        words = sum(len(tokenize(p.reply)) + 1 for p in test_pairs)
        metrics.update(
            test_perplexity=test["perplexity"],
            test_word_perplexity=math.exp(min(test["nll"] * test["tokens"] / words, 50.0)),
            test_pairs=len(test_pairs),
        )
    return metrics


def train_from_args(args: argparse.Namespace, command: str, network: LSTMConfig | None = None) -> int:
    """`python -m seq2seq train`: preset, overrides, data, run. `network`: an LSTM trained instead (the
    preset's training settings kept); `args.tokenizer`: a tokenizer folder used instead of training one."""
    from seq2seq.text import corpus

    model_cfg, train_cfg = preset(args.preset)
    model_cfg = network or model_cfg
    if args.schedule_steps:
        train_cfg = replace(train_cfg, max_steps=args.schedule_steps)
    if args.max_seconds:
        train_cfg = replace(train_cfg, max_seconds=args.max_seconds)
    if getattr(args, "warmup_steps", None):
        train_cfg = replace(train_cfg, warmup_steps=args.warmup_steps)
    if args.batch_size:
        train_cfg = replace(train_cfg, batch_size=args.batch_size)
    pairs = corpus.read_pairs(args.pairs) if args.pairs else corpus.chitchat_pairs()
    job = TransformerJob(
        pairs[: args.limit] if args.limit else pairs,
        args.out,
        args.run_dir or Path("runs") / args.out.name,
        model_cfg,
        train_cfg,
        resume=args.resume,
        quiet=args.quiet,
        max_steps=args.max_steps,
        tokenizer=SubwordTokenizer.load(args.tokenizer) if getattr(args, "tokenizer", None) else None,
        command=command,
    )
    try:
        run(job)
    except Interrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    print(f"model written to {args.out}")
    return 0
