"""`build_step`: a packageable target that runs a Python entry point of the repo in a sandbox.

Pants 2.17's `archive` can only zip or tar; the MWAA bundle and the dbt manifest are files
a project tool writes. A `build_step` builds a PEX from its `tool` target, runs it with
`args` over its `dependencies`' sources and its `packages`' built artifacts (wheels, other
build steps), and hands the `outputs` to `pants package`, cached like any other process.

`locked_wheels` puts the original wheel files of those requirement targets (their whole
closure, taken from the resolve's lockfile and checked against its hashes, for the platform of
`locked_wheels_platform`) in the sandbox at `locked-wheels.pex/.deps/`: the step can install or
ship them without an index.
"""

from __future__ import annotations

from dataclasses import dataclass

from pants.backend.python.target_types import EntryPoint, PexLayout, PythonSourceField
from pants.backend.python.util_rules.pex import CompletePlatforms, Pex, PexProcess
from pants.backend.python.util_rules.pex_from_targets import PexFromTargetsRequest
from pants.core.goals.package import (
    BuiltPackage,
    BuiltPackageArtifact,
    EnvironmentAwarePackageRequest,
    PackageFieldSet,
)
from pants.core.target_types import FileSourceField, ResourceSourceField
from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.addresses import Addresses, UnparsedAddressInputs
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import EMPTY_DIGEST, Digest, MergeDigests
from pants.engine.process import ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    FieldSetsPerTarget,
    FieldSetsPerTargetRequest,
    SourcesField,
    SpecialCasedDependencies,
    StringField,
    StringSequenceField,
    Target,
    Targets,
    TransitiveTargets,
    TransitiveTargetsRequest,
)
from pants.engine.unions import UnionRule


class BuildStepToolField(StringField):
    alias = "tool"
    required = True
    help = "Address of the python_source to run as `python -m`, e.g. `infra/mwaa/build.py`."


class BuildStepModuleField(StringField):
    alias = "module"
    required = True
    help = "The module to run (`python -m <module>`), e.g. `mwaa.build`."


class BuildStepArgsField(StringSequenceField):
    alias = "args"
    help = "Arguments passed to the module, after the module name."


class BuildStepOutputsField(StringSequenceField):
    alias = "outputs"
    required = True
    help = "Directories or files the step writes (relative to the sandbox); they become the package."


class BuildStepPackagesField(SpecialCasedDependencies):
    alias = "packages"
    help = "Targets to `package` first; their artifacts are in the sandbox at their dist/ paths."


class BuildStepEnvVarsField(StringSequenceField):
    alias = "extra_env_vars"
    help = "Environment variables passed through from Pants' environment, `NAME` or `NAME=value`."


class BuildStepLockedWheelsField(SpecialCasedDependencies):
    alias = "locked_wheels"
    help = "Requirement targets whose locked wheels (with dependencies) go in the sandbox."


class BuildStepLockedWheelsPlatformField(SpecialCasedDependencies):
    alias = "locked_wheels_platform"
    help = "A `file` target with the Pex complete platform JSON the locked wheels must fit."


class BuildStepDependencies(Dependencies):
    help = "Targets whose sources (files, resources, python sources) the step reads."


class BuildStepTarget(Target):
    alias = "build_step"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        BuildStepToolField,
        BuildStepModuleField,
        BuildStepArgsField,
        BuildStepOutputsField,
        BuildStepPackagesField,
        BuildStepEnvVarsField,
        BuildStepLockedWheelsField,
        BuildStepLockedWheelsPlatformField,
        BuildStepDependencies,
    )
    help = __doc__


@dataclass(frozen=True)
class BuildStepFieldSet(PackageFieldSet):
    required_fields = (BuildStepToolField, BuildStepOutputsField)

    tool: BuildStepToolField
    module: BuildStepModuleField
    args: BuildStepArgsField
    outputs: BuildStepOutputsField
    packages: BuildStepPackagesField
    extra_env_vars: BuildStepEnvVarsField
    locked_wheels: BuildStepLockedWheelsField
    locked_wheels_platform: BuildStepLockedWheelsPlatformField
    dependencies: BuildStepDependencies


LOCKED_WHEELS_PEX = "locked-wheels.pex"


async def locked_wheels(field_set: BuildStepFieldSet) -> Digest:
    """The requirements' original wheels, in `locked-wheels.pex/.deps/` (a packed PEX built
    with --no-pre-install-wheels keeps them as downloaded)."""
    if not field_set.locked_wheels.value:
        return EMPTY_DIGEST
    requirements, platforms = await MultiGet(
        Get(Addresses, UnparsedAddressInputs,
            field_set.locked_wheels.to_unparsed_address_inputs()),
        Get(CompletePlatforms, UnparsedAddressInputs,
            field_set.locked_wheels_platform.to_unparsed_address_inputs()),
    )
    pex = await Get(
        Pex,
        PexFromTargetsRequest(
            requirements,
            output_filename=LOCKED_WHEELS_PEX,
            internal_only=False,
            layout=PexLayout.PACKED,
            complete_platforms=platforms,
            additional_args=("--no-pre-install-wheels",),
            include_source_files=False,
            description=f"{field_set.address}: locked wheels",
        ),
    )
    return pex.digest


@rule(desc="Run a build step")
async def package_build_step(field_set: BuildStepFieldSet) -> BuiltPackage:
    tool_addresses = await Get(
        Addresses,
        UnparsedAddressInputs(
            [field_set.tool.value],
            owning_address=field_set.address,
            description_of_origin=f"the `tool` field of {field_set.address}",
        ),
    )
    package_targets, transitive = await MultiGet(
        Get(Targets, UnparsedAddressInputs, field_set.packages.to_unparsed_address_inputs()),
        Get(TransitiveTargets, TransitiveTargetsRequest([field_set.address])),
    )
    package_field_sets = await Get(
        FieldSetsPerTarget, FieldSetsPerTargetRequest(PackageFieldSet, package_targets)
    )
    packages = await MultiGet(
        Get(BuiltPackage, EnvironmentAwarePackageRequest(fs))
        for fs in package_field_sets.field_sets
    )
    sources = await Get(
        SourceFiles,
        SourceFilesRequest(
            (tgt.get(SourcesField) for tgt in transitive.dependencies),
            for_sources_types=(FileSourceField, ResourceSourceField, PythonSourceField),
            enable_codegen=True,
        ),
    )
    tool = await Get(
        Pex,
        PexFromTargetsRequest(
            tool_addresses,
            output_filename="build_step_tool.pex",
            internal_only=True,
            main=EntryPoint(field_set.module.value),
        ),
    )
    wheels = await locked_wheels(field_set)
    input_digest = await Get(
        Digest,
        MergeDigests([sources.snapshot.digest, wheels, *(package.digest for package in packages)]),
    )
    env = await Get(
        EnvironmentVars, EnvironmentVarsRequest(tuple(field_set.extra_env_vars.value or ()))
    )
    outputs = tuple(field_set.outputs.value or ())
    result = await Get(
        ProcessResult,
        PexProcess(
            tool,
            argv=tuple(field_set.args.value or ()),
            input_digest=input_digest,
            extra_env=env,
            output_directories=outputs,
            description=f"{field_set.address}: python -m {field_set.module.value}",
        ),
    )
    return BuiltPackage(result.output_digest, tuple(BuiltPackageArtifact(p) for p in outputs))


def target_types():
    return [BuildStepTarget]


def rules():
    return [*collect_rules(), UnionRule(PackageFieldSet, BuildStepFieldSet)]
