//! The Python client as a user gets it: builds the `webinar-client` wheel (its build hook
//! generates the stubs from `proto/`), installs it into a fresh virtualenv in a temporary
//! folder, copies the tests and the example there (outside the repository, so nothing can
//! reach `proto/` or the sources), type-checks the example with `mypy --strict` and runs the
//! tests against the stack.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result};

use crate::run::{exec, on_path};

/// `client/python/.venv` with `requirements.txt` (the wheel builder) installed, re-installed
/// only when that file changes; returns its python.
pub fn ensure_builder(root: &Path) -> Result<PathBuf> {
    let dir = root.join("client").join("python");
    let venv = dir.join(".venv");
    let python = venv.join("bin").join("python");
    let requirements = fs::read_to_string(dir.join("requirements.txt"))?;
    if !python.is_file() {
        exec(
            Command::new(system_python()?)
                .args(["-m", "venv"])
                .arg(&venv),
        )?;
    }
    let stamp = venv.join(".requirements.installed");
    if fs::read_to_string(&stamp).ok().as_deref() != Some(requirements.as_str()) {
        exec(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("-r")
                .arg(dir.join("requirements.txt")),
        )?;
        fs::write(&stamp, &requirements)?;
    }
    Ok(python)
}

fn system_python() -> Result<&'static str> {
    ["python3", "python"]
        .into_iter()
        .find(|p| on_path(p))
        .context("python3 is needed for the Python client; install it")
}

/// Builds the wheel and prepares a fresh virtualenv with it, in `work`; returns the venv's
/// python and the folder holding the copied tests.
pub fn install_wheel(root: &Path, builder: &Path, work: &Path) -> Result<(PathBuf, PathBuf)> {
    let dir = root.join("client").join("python");
    let dist = work.join("dist");
    println!("    building the webinar-client wheel");
    exec(
        Command::new(builder)
            .args(["-m", "build", "--wheel", "--outdir"])
            .arg(&dist)
            .arg(&dir),
    )?;
    let wheel = fs::read_dir(&dist)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("the build produced no wheel")?;
    let venv = work.join("venv");
    exec(
        Command::new(system_python()?)
            .args(["-m", "venv"])
            .arg(&venv),
    )?;
    let python = venv.join("bin").join("python");
    let run = work.join("run");
    fs::create_dir_all(run.join("tests"))?;
    fs::copy(dir.join("example.py"), run.join("example.py"))?;
    fs::copy(
        dir.join("requirements-test.txt"),
        run.join("requirements-test.txt"),
    )?;
    for entry in fs::read_dir(dir.join("tests"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "py") {
            fs::copy(
                &path,
                run.join("tests").join(path.file_name().unwrap_or_default()),
            )?;
        }
    }
    exec(
        Command::new(&python)
            .current_dir(&run)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(&wheel)
            .args(["-r", "requirements-test.txt"]),
    )?;
    Ok((python, run))
}

/// `mypy --strict example.py`, then pytest, from the copied folder.
pub fn run_tests(python: &Path, run: &Path, stack_json: &Path, bin: &Path) -> Result<()> {
    exec(Command::new(python).current_dir(run).args([
        "-m",
        "mypy",
        "--strict",
        "--no-incremental",
        "example.py",
    ]))?;
    exec(
        Command::new(python)
            .current_dir(run)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
            .env("WEBINAR_STACK_JSON", stack_json)
            .env(
                "WEBINAR_INTEGRATIONSERVICE_BIN",
                bin.join("integrationservice"),
            ),
    )
}
