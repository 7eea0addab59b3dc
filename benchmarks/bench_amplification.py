"""Amplification benchmark: the published 1D camel-back study, and the 2D ring.

Reproduces Butter et al., "GANplifying event samples" (arXiv:2008.06545), Fig. 2: 100 training
events of the camel back 0.5 N(-4,1) + 0.5 N(4,1), quantile MSE in 10, 20 and 50 equal-probability
bins, for sampled sets, a 5-parameter maximum-likelihood fit and generators trained on the 100
events (flashgen's flow and GAN, and a Gaussian KDE baseline) with 100 ... 100,000 generated events;
everything repeated over independent training samples. Then the same on the 2D ring (smaller).

    python benchmarks/bench_amplification.py [--repeats 20] [--workers 2]

writes benchmarks/results/amplification.{json,md,png} (and amplification_ring.png).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from flashgen.sources.toys import TOYS
from flashgen.studies.amplification import AmplificationResult, amplification_study
from flashgen.studies.trainers import make_trainer
from flashgen.training import TrainSettings
from flashgen.studies.amplification_report import markdown_report, plot_amplification

RESULTS = Path(__file__).resolve().parent / "results"

PUBLISHED_FIT = {10: "≈ 300", 20: "≈ 500", 50: "≈ 1000"}
PUBLISHED_GAN = {10: "150–500 (low end)", 20: "150–500", 50: "≈ 500+ (G > 5)"}


def write_reports(payload: dict, results: dict[str, AmplificationResult], out_dir: Path) -> None:
    """amplification.md and the plots from the benchmark payload."""
    machine = payload["machine"]
    md = ["# Amplification benchmark\n",
          f"`{payload['command']}` — {machine['wall_s'] / 60:.1f} min wall on {machine['cores']} cores "
          f"with {machine['workers']} workers. {machine['note']}\n",
          "n_equiv = (1 − 1/K)/(K · MSE) from the quantile MSE averaged over repetitions; "
          "G = n_equiv / n_train. Published (Butter et al. 2020, Fig. 2, 100 training events): "
          "the 5-parameter fit ≈ 300 / 500 / 1000 sampled events at K = 10 / 20 / 50; their GAN's "
          "10,000 events ≈ 150–500 sampled events (G > 5 at K = 50). flow, gan: flashgen's models "
          "with the camelback preset; kde: Gaussian KDE with leave-one-out cross-validated width.\n"]
    published = {"published fit": PUBLISHED_FIT, "published GAN @ 10k": PUBLISHED_GAN}
    for toy, r in results.items():
        md.append(markdown_report(r, published if toy == "camelback" else None))
        plot_amplification(r, out_dir / ("amplification.png" if toy == "camelback" else f"amplification_{toy}.png"))
    (out_dir / "amplification.md").write_text("\n".join(md))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=20, help="camel-back training samples (default 20)")
    p.add_argument("--ring-repeats", type=int, default=10, help="ring training samples (default 10)")
    p.add_argument("--models", default="kde,flow,gan", help="generators (default kde,flow,gan)")
    p.add_argument("--generated", default="100,1000,10000,100000",
                   help="generated sample sizes (default 100,1000,10000,100000)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: camelback preset)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    p.add_argument("--seed", type=int, default=2008_06545, help="master seed")
    p.add_argument("--out-dir", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--note", default="", help="free text stored with the results (machine load, ...)")
    p.add_argument("--render", action="store_true",
                   help="only rewrite the .md and .png from an existing amplification.json")
    args = p.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.render:
        payload = json.loads((args.out_dir / "amplification.json").read_text())
        results = {t: AmplificationResult.from_dict(payload[t]) for t in ("camelback", "ring") if t in payload}
        write_reports(payload, results, args.out_dir)
        return 0
    generated = tuple(int(float(n)) for n in args.generated.split(","))
    models = [m for m in args.models.split(",") if m]

    start = time.perf_counter()
    results = {}
    for toy, repeats in (("camelback", args.repeats), ("ring", args.ring_repeats)):
        if repeats < 2:
            continue
        truth = TOYS[toy]()
        settings = TrainSettings(steps=args.steps)
        trainers = {m: make_trainer(m, truth, preset="camelback", settings=settings) for m in models}
        t0 = time.perf_counter()
        results[toy] = amplification_study(truth, trainers, n_train=100, quantiles=(10, 20, 50),
                                           repeats=repeats, generated=generated, seed=args.seed,
                                           workers=args.workers)
        print(f"{toy}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start

    machine = {"platform": platform.platform(), "python": platform.python_version(),
               "cores": os.cpu_count(), "workers": args.workers, "wall_s": round(wall, 1),
               "note": args.note}
    payload = {"benchmark": "amplification", "command": "python benchmarks/bench_amplification.py "
               + shlex.join(argv if argv is not None else sys.argv[1:]), "machine": machine,
               "published": {"reference": "Butter et al., arXiv:2008.06545, Fig. 2",
                             "fit_n_equiv": PUBLISHED_FIT, "gan_10k_n_equiv": PUBLISHED_GAN},
               **{toy: r.to_dict() for toy, r in results.items()}}
    (args.out_dir / "amplification.json").write_text(json.dumps(payload, indent=1))
    write_reports(payload, results, args.out_dir)
    print(f"wrote {args.out_dir}/amplification.{{json,md,png}} in {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
