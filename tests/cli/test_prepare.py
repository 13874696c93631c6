"""srlab-prepare's command line: argument checks with their exact messages and exit codes."""

import pytest


def test_prepare_folder_source_needs_hr_dir(tmp_path, capsys):
    from srlab.cli.prepare import main

    with pytest.raises(SystemExit) as e:
        main(["--source", "folder", "--out", str(tmp_path / "out")])
    assert (
        e.value.code == 2
        and "srlab: error: --source folder needs --hr-dir" in capsys.readouterr().err
    )
