"""The FAQ map: which chapter sections answer each of the 23 questions of the FAQ.

``python -m tinyvdm.faq`` prints the map and the coverage (``n/23``). A test checks that every
section named here exists as a heading in its chapter, so the map cannot point at nothing. It
grows with each chapter; ``PLANNED`` says where the questions not yet answered will be.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Our English rendering of the FAQ's questions (the FAQ itself is in Chinese).
QUESTIONS: dict[int, str] = {
    1: "What is AI video, and which key techniques does it rest on?",
    2: "What is video generation, and what are its main directions?",
    3: "How did video generation evolve (GAN, autoregressive, diffusion, DiT)?",
    4: "Where is video generation used?",
    5: "What is a DiT (diffusion transformer)?",
    6: "What is a diffusion model, in brief?",
    7: "What is a GAN, and why do video generators seldom use GANs?",
    8: "What is a VAE, and how is it used to generate and analyse video?",
    9: "How do GANs and VAEs differ?",
    10: "What makes GANs and VAEs hard to train?",
    11: "Which network architectures do video diffusion models use?",
    12: "What are video diffusion models used for?",
    13: "What is a ViT, and what role does it play in video diffusion?",
    14: "Where is ViT used for image classification?",
    15: "What are the strengths of ViT?",
    16: "What characterises U-ViT?",
    17: "How does U-ViT handle time dependence in video?",
    18: "How is U-ViT used for video, and how well does it perform?",
    19: "How do video diffusion models differ from earlier video generators?",
    20: "Which metrics evaluate a video generator?",
    21: "Describe the denoising process of a video diffusion model.",
    22: "How do video diffusion models handle temporal dynamics?",
    23: "What does latent diffusion bring to video generation?",
}

# question -> [(chapter file stem, exact heading text of the section that answers it)]
FAQ_MAP: dict[int, list[tuple[str, str]]] = {
    1: [
        ("00_video_as_data", "Q1. What AI video is: understanding and generation"),
        ("00_video_as_data", "Video understanding: a motion classifier"),
        ("00_video_as_data", "Answer, with evidence"),
    ],
    2: [
        ("00_video_as_data", "Q2. The directions of video generation, as data pairs"),
        ("00_video_as_data", "Answer, with evidence"),
    ],
    4: [
        ("00_video_as_data", "Q4. Where video generation is used"),
        ("00_video_as_data", "Answer, with evidence"),
    ],
    8: [
        ("02_vae", "Q8. What a VAE is"),
        ("02_vae", "The reparameterisation trick"),
        ("02_vae", "Anomaly detection: reconstruction error as a score"),
        ("02_vae", "Where the FAQ's answer is imprecise"),
        ("02_vae", "Answer, with evidence"),
    ],
    6: [
        ("06_diffusion_forward_reverse", "Q6. What a diffusion model is"),
        ("06_diffusion_forward_reverse", "The forward process and its schedules"),
        ("06_diffusion_forward_reverse", "The reverse Markov chain"),
        ("06_diffusion_forward_reverse", "Answer, with evidence"),
    ],
    # Chapter 06 answers the many-steps-versus-one part; chapter 01 compares diffusion with GANs,
    # VAEs and autoregressive models on the same toy data.
    19: [
        ("06_diffusion_forward_reverse", "One step or many (Q19)"),
        ("06_diffusion_forward_reverse", "Answer, with evidence"),
        ("01_generative_landscape", "Quality against sampling cost"),
        ("01_generative_landscape", "Answer, with evidence"),
    ],
    3: [
        ("01_generative_landscape", "Q3. The routes, drawn from a table"),
        ("01_generative_landscape", "Answer, with evidence"),
        ("05_autoregressive", "Part 1: the tokenizer (VQ-VAE)"),
        ("05_autoregressive", "Part 3: the cost of drawing one token at a time"),
        ("05_autoregressive", "Answer, with evidence"),
    ],
    5: [
        ("11_dit", "The DiT, part by part"),
        ("11_dit", "Four ways to feed in the condition"),
        ("11_dit", "The ablation: same network, same data, same steps, four conditionings"),
        ("11_dit", "Why does adaLN-Zero barely follow its class?"),
        ("11_dit", "Quality against GFLOPs"),
        ("11_dit", "Answer, with evidence"),
    ],
    7: [
        ("03_gan", "Q7. The game"),
        ("03_gan", "The adversarial dynamics"),
        ("03_gan", "Recognised objects and mode collapse"),
        ("03_gan", "\"Lighter\": size and compute per generated clip"),
        ("03_gan", "Answer, with evidence"),
    ],
    9: [
        ("04_gan_vs_vae", "Q9. Same data, same budget: a VAE and a GAN"),
        ("04_gan_vs_vae", "Where the FAQ's answers are vague or wrong"),
        ("04_gan_vs_vae", "Answer, with evidence"),
    ],
    10: [
        ("04_gan_vs_vae", "Q10, the VAE: posterior collapse"),
        ("04_gan_vs_vae", "Q10, the GAN: instability"),
        ("04_gan_vs_vae", "Where the FAQ's answers are vague or wrong"),
        ("04_gan_vs_vae", "Answer, with evidence"),
    ],
    16: [
        ("10_uvit", "Q16. Everything is a token"),
        ("10_uvit", "Q16. Long skips: concatenate, then a linear layer"),
        ("10_uvit", "Answer, with evidence"),
    ],
    17: [
        ("10_uvit", "Q17. What carries time, in code"),
        ("10_uvit", "Q17, measured: do the other frames help?"),
        ("10_uvit", "Answer, with evidence"),
    ],
    18: [
        ("10_uvit", "Q18, measured on video: are the samples scenes?"),
        ("10_uvit", "Answer, with evidence"),
    ],
    21: [
        ("06_diffusion_forward_reverse", "The reverse Markov chain"),
        ("06_diffusion_forward_reverse", "What the network predicts: eps, x0 or v"),
        ("06_diffusion_forward_reverse", "L_simple versus the variational bound"),
        ("06_diffusion_forward_reverse", "Q21. The denoising process, claim by claim"),
        ("06_diffusion_forward_reverse", "Answer, with evidence"),
    ],
    13: [
        ("09_vit", "Q13. From a frame to a sequence of tokens"),
        ("09_vit", "The library's ViT"),
        ("09_vit", "Answer, with evidence"),
    ],
    14: [
        ("09_vit", "Q14. A quality inspector for generated video"),
        ("09_vit", "Where the inspector looks: attention maps"),
        ("09_vit", "Answer, with evidence"),
    ],
    15: [
        ("09_vit", "Q15. Global context: which frames can meet?"),
        ("09_vit", "Q15, the FAQ's other claims: sizes and data"),
        ("09_vit", "Answer, with evidence"),
    ],
    # Chapter 08 answers the attention part; chapters 14 (long video) and 16 (editing) add the rest.
    22: [
        ("08_space_time_attention", "Five patterns, one mask each"),
        ("08_space_time_attention", "What each pattern costs as the clip grows"),
        ("08_space_time_attention", "The experiment: the same denoiser with each pattern"),
        ("08_space_time_attention", "Answer, with evidence"),
    ],
}

# Where the questions not answered yet will be answered (from the curriculum).
PLANNED: dict[int, str] = {
    11: "07, 12, 13", 12: "15, 16", 20: "17", 23: "12",
}

_HEADING = re.compile(r"^#\s+#+\s+(?P<text>.+?)\s*$")


def notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "notebooks"


def headings(chapter: str, folder: Path | None = None) -> list[str]:
    """The markdown headings of a jupytext chapter (lines like ``# ## Title`` in its .py)."""
    path = (folder or notebooks_dir()) / f"{chapter}.py"
    if not path.is_file():
        raise FileNotFoundError(f"chapter {chapter!r} not found at {path}")
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADING.match(line)
        if match:
            found.append(match.group("text"))
    return found


def missing_sections(folder: Path | None = None) -> list[str]:
    """Every (question, chapter, heading) in the map that does not exist: empty when sound."""
    problems = []
    found: dict[str, list[str]] = {}  # each chapter is read once, however many sections it answers
    for question, sections in FAQ_MAP.items():
        for chapter, heading in sections:
            try:
                if chapter not in found:
                    found[chapter] = headings(chapter, folder)
                if heading not in found[chapter]:
                    problems.append(f"Q{question}: {chapter} has no section {heading!r}")
            except FileNotFoundError as err:
                problems.append(f"Q{question}: {err}")
    return problems


def coverage() -> tuple[int, int]:
    return sum(1 for q in QUESTIONS if FAQ_MAP.get(q)), len(QUESTIONS)


def main() -> int:
    answered, total = coverage()
    for q, question in QUESTIONS.items():
        print(f"Q{q:>2}. {question}")
        if q in FAQ_MAP:
            for chapter, heading in FAQ_MAP[q]:
                print(f"       -> notebooks/{chapter}.py :: {heading}")
        else:
            print(f"       (not answered yet; planned in chapter {PLANNED.get(q, '?')})")
    print(f"\ncoverage: {answered}/{total}")
    problems = missing_sections()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
