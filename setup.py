"""Builds lutcli: its packages, the shipped looks, and the CPU kernels (kernels/native.c).

The shipped looks stay in the repository's top-level ``presets/`` (built by ``make presets``
from ``presets/looks.json``) and install as the package ``lutcli.shipped_presets``, so a wheel
carries them and ``lutcli.presets`` reads them through ``importlib.resources``; an editable
install maps the same package to the folder itself.

The compiled kernels are optional for users: where no C compiler is found the install still
succeeds, and lutcli runs its reference kernels in torch, saying so once. In CI (``CI=true``) or
with ``LUTCLI_REQUIRE_KERNELS=1`` a failed build fails the install instead, so that tests never
run without them unnoticed. OpenMP is used where the compiler has it.
"""

from __future__ import annotations

import os

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError

OPENMP = {"compile": ["-fopenmp"], "link": ["-fopenmp"]}
SHIPPED_PRESETS = "lutcli.shipped_presets"


def kernels_required() -> bool:
    """Whether a failed kernel build must fail the install: in CI, or when asked to."""
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("LUTCLI_REQUIRE_KERNELS") == "1"
    )


class BuildKernels(build_ext):
    """Compile with OpenMP when the compiler supports it, single-threaded otherwise."""

    def build_extension(self, extension: Extension) -> None:
        base = list(extension.extra_compile_args), list(extension.extra_link_args)
        extension.extra_compile_args = base[0] + OPENMP["compile"]
        extension.extra_link_args = base[1] + OPENMP["link"]
        try:
            super().build_extension(extension)
            return
        except Exception:  # no OpenMP (e.g. Apple clang): the same kernels on one core
            extension.extra_compile_args, extension.extra_link_args = base
        try:
            super().build_extension(extension)
        except Exception as error:
            if not extension.optional:
                raise CompileError(
                    f"lutcli's CPU kernels (src/lutcli/kernels/native.c) failed to build ({error}),"
                    " and CI=true or LUTCLI_REQUIRE_KERNELS=1 requires them"
                ) from error
            raise


setup(
    packages=[*find_packages("src"), SHIPPED_PRESETS],
    package_dir={"": "src", SHIPPED_PRESETS: "presets"},
    package_data={SHIPPED_PRESETS: ["*.cube", "*.pt", "*.json"]},
    ext_modules=[
        Extension(
            "lutcli.kernels._native",
            ["src/lutcli/kernels/native.c"],
            extra_compile_args=["-O3", "-std=gnu11", "-ffp-contract=fast"],
            optional=not kernels_required(),
        )
    ],
    cmdclass={"build_ext": BuildKernels},
)
