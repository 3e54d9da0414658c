import subprocess
import sys

from tinyvdm.faq import FAQ_MAP, PLANNED, QUESTIONS, coverage, missing_sections


def test_every_mapped_section_exists():
    assert missing_sections() == []


def test_every_question_is_answered_or_planned():
    assert set(QUESTIONS) == set(range(1, 24))
    assert set(FAQ_MAP) | set(PLANNED) == set(QUESTIONS)
    assert not set(FAQ_MAP) & set(PLANNED), "a question answered is no longer planned"


def test_a_missing_heading_is_reported(tmp_path):
    (tmp_path / "00_video_as_data.py").write_text("# %% [markdown]\n# ## Something else\n")
    assert any("has no section" in p for p in missing_sections(tmp_path))


def test_cli_prints_coverage():
    out = subprocess.run([sys.executable, "-m", "tinyvdm.faq"], capture_output=True, text=True, check=True).stdout
    answered, total = coverage()
    assert f"coverage: {answered}/{total}" in out and total == 23
