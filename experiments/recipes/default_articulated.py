"""The recipe of the shipped default model: the factored talking head, end to end on a CPU.

    python experiments/recipes/default_articulated.py --work runs/articulated [--threads 1]
        [--speech-minutes 40] [--decoder-minutes 45] [--export scantalk/assets/default.ckpt]
        [--blender experiments/checkpoints/emoblender_heads.ckpt]

About 1 h 45 min on a 2-core CPU with the defaults (data 15 min, then the two networks; with
`--stages` they can run side by side in two processes, `--threads 1` each).

1. speech from real voices (festival, flite) with exact phone timings: a training corpus from
   the training voices and a validation corpus from held-out voices (`scantalk.synthesis.speech`);
2. rigged heads: anatomical procedural heads and real faces deformed into new identities, each
   in several meshings (`scantalk.training.articulated_data.build_rig_heads`);
3. the speech → articulation network (`SpeechArticulatorModule`), on log-mel features of
   augmented speech precomputed once (`build_speech_features`);
4. the DiffusionNet landmark decoder (`LandmarkDecoderModule`), on the rigged heads: it learns
   to find, on any surface, the landmarks the rig is placed from;
5. both halves joined into one `ArticulatedTalker` checkpoint with this recipe's facts;
6. its emotion head, EmoVOCA's way (`emotional_default.py`: blender → emotional dataset → head,
   under `<work>/emotional`; `--blender` names a trained EmoBlender, e.g.
   `experiments/checkpoints/emoblender_heads.ckpt`, to skip training one), written back into
   the same checkpoint.

Every stage skips itself when its output is complete, and training resumes from its last
checkpoint, so an interrupted run goes on where it stopped. Progress bars show each stage.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def _last_checkpoint(run_dir: Path) -> Path | None:
    found = sorted(run_dir.rglob("last*.ckpt"), key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def _train(module, data, run_dir: Path, minutes: float, every_steps: int, val_every: int | None) -> Path:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    resume = _last_checkpoint(run_dir)
    done = run_dir / "finished.json"
    if done.is_file() and resume is not None:
        return resume
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", every_n_train_steps=every_steps, save_last=True)
    trainer = L.Trainer(accelerator="auto", devices=1, max_epochs=100000, max_time={"minutes": minutes},
                        default_root_dir=run_dir, callbacks=[checkpoint], logger=CSVLogger(run_dir, name="logs"),
                        gradient_clip_val=1.0, log_every_n_steps=20, val_check_interval=val_every,
                        check_val_every_n_epoch=None if val_every else 1, enable_progress_bar=True)
    trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume else None)
    trainer.save_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    done.write_text(json.dumps({"steps": trainer.global_step, "epochs": trainer.current_epoch}))
    return run_dir / "checkpoints" / "last.ckpt"


def _refresh_decoder(base: dict, decoder_ckpt: Path, args: argparse.Namespace, seconds: dict) -> Path:
    """Write `base` (a model checkpoint) with the decoder of `decoder_ckpt` to `args.export`."""
    from scantalk.atomic import atomic_path

    decoder_state = torch.load(decoder_ckpt, map_location="cpu", weights_only=True)
    trained = {k: v for k, v in decoder_state["state_dict"].items() if k.startswith("decoder.")}
    missing = sorted(set(k for k in base["state_dict"] if k.startswith("decoder.")) ^ set(trained))
    if missing:
        raise SystemExit(f"the decoder in {decoder_ckpt} does not fit {args.base}: {missing[:5]} differ")
    base["state_dict"].update(trained)
    recipe = base.setdefault("recipe", {})
    recipe.setdefault("history", []).append(
        f"decoder refreshed by {Path(__file__).resolve().relative_to(REPO)} with {vars(args)}: "
        f"{int(decoder_state.get('global_step', -1))} steps, {round(seconds.get('decoder', 0.0))} s")
    with atomic_path(Path(args.export)) as tmp:
        torch.save(base, tmp)
    print(f"model with the refreshed decoder written to {Path(args.export).resolve()}")
    return Path(args.export)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/articulated", help="working folder (data, runs)")
    parser.add_argument("--utterances", type=int, default=1500, help="training utterances")
    parser.add_argument("--val-utterances", type=int, default=150, help="held-out-voice utterances")
    parser.add_argument("--procedural-heads", type=int, default=70)
    parser.add_argument("--real-heads", type=int, default=50)
    parser.add_argument("--extra-meshings", type=int, default=2, help="extra meshings per identity")
    parser.add_argument("--augmentations", type=int, default=3, help="draws per training utterance (1 clean)")
    parser.add_argument("--speech-minutes", type=float, default=40.0)
    parser.add_argument("--decoder-minutes", type=float, default=45.0)
    parser.add_argument("--stages", default="speech,heads,articulator,decoder,export,emotion")
    parser.add_argument("--frontend", default="phonetic", choices=["mel", "phonetic", "combined"],
                        help="how the shipped model turns speech into the track (see evaluate/frontends.py)")
    parser.add_argument("--export", default=str(REPO / "scantalk" / "assets" / "default.ckpt"))
    parser.add_argument("--init-decoder", default=None,
                        help="decoder to start from: a decoder run's checkpoint or a model checkpoint (its decoder)")
    parser.add_argument("--decoder-lr", type=float, default=2e-3, help="the decoder's Adam learning rate")
    parser.add_argument("--decoder-run", default="decoder",
                        help="folder under WORK/runs for the decoder's run (a new name starts a new run, e.g. a "
                             "fine-tune at a lower learning rate from --init-decoder)")
    parser.add_argument("--stylised", type=float, default=0.5,
                        help="share of procedural heads drawn as caricatures and stylised characters")
    parser.add_argument("--base", default=None,
                        help="model checkpoint to refresh: export keeps its articulator, emotion head and "
                             "alignment reference and takes the newly trained decoder (retraining the decoder alone)")
    parser.add_argument("--blender", default=None,
                        help="a trained EmoBlender checkpoint for the emotion stage (default: train one)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per training process (1 when stages run side by side on few cores)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    stages = set(args.stages.split(","))

    from scantalk.training.articulated_data import (
        RigDataModule,
        SpeechFeatureDataModule,
        build_rig_heads,
        build_speech_features,
        mean_nose_tip,
    )
    from scantalk.synthesis.speech import HELD_OUT_VOICES, TRAIN_VOICES, build_speech_corpus
    from scantalk.training.articulated import LandmarkDecoderModule, SpeechArticulatorModule

    torch.manual_seed(0)
    work = Path(args.work).resolve()
    seconds: dict[str, float] = {}

    clock = time.perf_counter()
    if "speech" in stages:
        build_speech_corpus(work / "speech" / "train", args.utterances, seed=0, voices=TRAIN_VOICES)
        build_speech_corpus(work / "speech" / "val", args.val_utterances, seed=1, voices=HELD_OUT_VOICES)
    seconds["speech"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if "heads" in stages:
        build_rig_heads(work / "heads", args.procedural_heads, args.real_heads, args.extra_meshings,
                        stylised=args.stylised)
    seconds["heads"] = time.perf_counter() - clock

    clock = time.perf_counter()
    articulator_ckpt = None
    if "articulator" in stages:
        features = work / "speech" / "features"
        build_speech_features(work / "speech" / "train", features / "train", augmentations=args.augmentations)
        build_speech_features(work / "speech" / "val", features / "val", augmentations=1)
        data = SpeechFeatureDataModule(str(features / "train"), str(features / "val"), batch_size=32)
        articulator_ckpt = _train(SpeechArticulatorModule(), data, work / "runs" / "articulator",
                                  args.speech_minutes, every_steps=200, val_every=None)
    seconds["articulator"] = time.perf_counter() - clock

    base = torch.load(args.base, map_location="cpu", weights_only=True) if args.base else None
    # Where alignment puts a face's nose tip: the base model's (its other parts were trained so),
    # else the training heads' mean.
    reference = (tuple(base["articulated_model_config"]["reference_center"]) if base
                 else mean_nose_tip(work / "heads") if "decoder" in stages or "export" in stages else None)
    clock = time.perf_counter()
    decoder_ckpt = None
    if "decoder" in stages:
        data = RigDataModule(str(work / "heads"), num_workers=1, landmark_crop=True, anchor_reference=reference)
        module = LandmarkDecoderModule(lr=args.decoder_lr)
        if args.init_decoder:  # warm start, e.g. from a run on whole heads or the shipped model
            state = torch.load(args.init_decoder, map_location="cpu", weights_only=True)["state_dict"]
            module.decoder.load_state_dict({k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")})
        decoder_ckpt = _train(module, data, work / "runs" / args.decoder_run, args.decoder_minutes, every_steps=200,
                              val_every=None)
    seconds["decoder"] = time.perf_counter() - clock

    exported = Path(args.export)
    if "export" in stages:
        if base is not None:
            _refresh_decoder(base, decoder_ckpt or _last_checkpoint(work / "runs" / args.decoder_run), args, seconds)
        else:
            _export(args, work, articulator_ckpt, decoder_ckpt, reference, seconds)
    if "emotion" in stages:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import emotional_default

        emotional_default.main(["--work", str(work / "emotional"), "--base", str(exported), "--export", str(exported),
                                *(["--blender", args.blender] if args.blender else [])])
    return exported if {"export", "emotion"} & stages else work


def _export(args: argparse.Namespace, work: Path, articulator_ckpt: Path | None, decoder_ckpt: Path | None,
            reference: tuple | None, seconds: dict[str, float]) -> Path:
    """Both trained halves joined into one `ArticulatedTalker` checkpoint at `args.export`."""
    from scantalk.checkpoint import save_model
    from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker

    articulator_ckpt = articulator_ckpt or _last_checkpoint(work / "runs" / "articulator")
    decoder_ckpt = decoder_ckpt or _last_checkpoint(work / "runs" / args.decoder_run)
    speech_state = torch.load(articulator_ckpt, map_location="cpu", weights_only=True)
    decoder_state = torch.load(decoder_ckpt, map_location="cpu", weights_only=True)
    # `align="auto"` moves a face's nose tip onto the training heads' mean nose tip, as training did.
    speech_hp, decoder_hp = speech_state["hyper_parameters"], decoder_state["hyper_parameters"]
    config = ArticulatedConfig(
        k_eig=decoder_hp["k_eig"], width=decoder_hp["width"], n_blocks=decoder_hp["n_blocks"],
        use_normals=decoder_hp["use_normals"], decoder="landmarks", frontend=args.frontend,
        n_mels=speech_hp["n_mels"], audio_hidden=speech_hp["audio_hidden"],
        lstm_hidden=speech_hp["lstm_hidden"], lstm_layers=speech_hp["lstm_layers"],
        reference_center=reference, align_anchor="nose",
    )
    model = ArticulatedTalker(config)
    model.articulator.load_state_dict({k[len("articulator."):]: v for k, v in speech_state["state_dict"].items()
                                       if k.startswith("articulator.")})
    model.decoder.load_state_dict({k[len("decoder."):]: v for k, v in decoder_state["state_dict"].items()
                                   if k.startswith("decoder.")})
    recipe = {
        "recipe": str(Path(__file__).resolve().relative_to(REPO)),
        "arguments": vars(args),
        "articulator_steps": int(speech_state.get("global_step", -1)),
        "decoder_steps": int(decoder_state.get("global_step", -1)),
        "stage_seconds": {name: round(value, 1) for name, value in seconds.items()},
        "reference_center": list(config.reference_center),
        "torch": str(torch.__version__),
    }
    save_model(args.export, model, recipe=recipe)
    print(json.dumps(recipe, indent=2))
    print(f"default model written to {Path(args.export).resolve()}")
    return Path(args.export)


if __name__ == "__main__":
    main()
