"""srlab-degrade-preview: one labelled PNG of a degradation preset."""

from tests.helpers import make_photo


def test_degrade_preview_writes_one_labelled_png(tmp_path):
    from PIL import Image

    from srlab.cli.degrade_preview import run
    from srlab.data.degradation_preview import PRESETS

    (tmp_path / "d.yaml").write_text(
        "plain: {steps: [{bicubic: {}}]}\nnoisy: {seed: 3, steps: [{noise: {sigma: [5, 9]}}]}\n"
    )
    Image.fromarray(make_photo(50, 60)).save(tmp_path / "hr.png")
    out = run(
        [
            "--image",
            str(tmp_path / "hr.png"),
            "--config",
            str(tmp_path / "d.yaml"),
            "--scale",
            "2",
            "--crop",
            "40",
            "--out",
            str(tmp_path / "p.png"),
        ]
    )
    img = Image.open(out)
    assert img.size == (3 * (40 + 6) + 6, 40 + 60 + 2 * 6)  # HR crop + 2 LR tiles, one row
    assert len(PRESETS) >= 5
