"""Builds lutcli's CPU kernels (src/lutcli/kernels/native.c) at install time.

The extension is optional: where no C compiler is found the install still succeeds, and lutcli
runs its reference kernels in torch, saying so once. OpenMP is used where the compiler has it.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP = {"compile": ["-fopenmp"], "link": ["-fopenmp"]}


class BuildKernels(build_ext):
    """Compile with OpenMP when the compiler supports it, single-threaded otherwise."""

    def build_extension(self, extension: Extension) -> None:
        base = list(extension.extra_compile_args), list(extension.extra_link_args)
        extension.extra_compile_args = base[0] + OPENMP["compile"]
        extension.extra_link_args = base[1] + OPENMP["link"]
        try:
            super().build_extension(extension)
        except Exception:  # no OpenMP (e.g. Apple clang): the same kernels on one core
            extension.extra_compile_args, extension.extra_link_args = base
            super().build_extension(extension)


setup(
    ext_modules=[
        Extension(
            "lutcli.kernels._native",
            ["src/lutcli/kernels/native.c"],
            extra_compile_args=["-O3", "-std=gnu11", "-ffp-contract=fast"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildKernels},
)
