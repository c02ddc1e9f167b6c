"""A trained policy as an ONNX model, for use without JAX, MuJoCo or jaxik.

    python -m jaxik.export RUN_DIR --onnx policy.onnx [--run 0]

RUN_DIR is a train.py output folder or its policy/ folder. The model computes the deterministic
action of jaxik.policy (normaliser included) with plain ONNX operators (Concat, Sub, Div, Clip,
MatMul, Add, Relu, Slice, Tanh; opset ``OPSET``):

    inputs   observation   float32 [batch, observation size]
             desired_goal  float32 [batch, goal size]
    output   action        float32 [batch, action size], in [-1, 1]

Its metadata (``metadata_props``) carries the policy folder's policy.json (``jaxik_policy``: task,
algorithm, input layout, normaliser settings), the task's full settings
(``jaxik_env_config``), and ``action_scaling``: what one unit of action does on the task. The
graph is written with onnx's own helpers: the policy is a small MLP, so no converter (and none of
their version pins) is needed. Run it with onnxruntime and NumPy alone (docs/export.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17
INPUTS = ("observation", "desired_goal")


def action_scaling(env_config: dict[str, Any], action_size: int) -> str:
    """What one unit of action means, from the task's resolved settings and its action size."""
    dt = env_config.get("ctrl_dt")
    per_step = f" per control step ({dt} s)" if dt else " per control step"
    if env_config.get("control_type", "joints") == "ee":
        arm = 3
        text = (
            f"action[0:3] x {env_config['ee_step']} m: displacement of the end-effector's target "
            f"position{per_step}"
        )
        if "rotation_step" in env_config:  # the pose task's end-effector control
            arm = 6
            text += (
                f"; action[3:6] x {env_config['rotation_step']} rad: rotation vector (world axes) "
                f"turning the end-effector's target orientation{per_step}"
            )
    else:
        arm = 7 if "finger_step" in env_config or "control_type" in env_config else action_size
        text = (
            f"action[0:{arm}] x {env_config['joint_step']} rad: displacement of each joint's "
            f"target{per_step}"
        )
    if action_size == arm + 1:
        text += (
            f"; action[{arm}] x {env_config['finger_step']} m: change of the fingers' width target"
        )
    return text + ". Actions are in [-1, 1]."


def to_onnx(info: dict[str, Any], params: dict[str, Any], run: int, env_config: dict[str, Any]):
    """Run ``run``'s policy as an onnx.ModelProto: ``info`` is the folder's policy.json,
    ``params`` the run's arrays as jaxik.policy.Policy holds them ("layers" [(kernel, bias)],
    "mean", "variance"), ``env_config`` the task's resolved settings."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    layout, action_size = info["layout"], info["action_size"]
    weights, nodes = [], []

    def constant(name: str, value) -> str:
        weights.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    nodes.append(helper.make_node("Concat", list(INPUTS), ["x"], axis=-1))
    x = "x"
    if info["normalize"]:
        mean = np.asarray(params["mean"], np.float32)
        variance = np.asarray(params["variance"], np.float32)
        std = np.sqrt(variance + np.float32(info["normalizer_eps"]))
        clip = info["observation_clip"]
        nodes += [
            helper.make_node("Sub", [x, constant("mean", mean)], ["centred"]),
            helper.make_node("Div", ["centred", constant("std", std)], ["scaled"]),
            helper.make_node(
                "Clip", ["scaled", constant("low", -clip), constant("high", clip)], ["x_in"]
            ),
        ]
        x = "x_in"
    depth = len(params["layers"])
    for i, (kernel_value, bias_value) in enumerate(params["layers"]):
        kernel = constant(f"layer_{i}_kernel", kernel_value)
        bias = constant(f"layer_{i}_bias", bias_value)
        nodes += [
            helper.make_node("MatMul", [x, kernel], [f"matmul_{i}"]),
            helper.make_node("Add", [f"matmul_{i}", bias], [f"dense_{i}"]),
        ]
        x = f"dense_{i}"
        if i < depth - 1:
            nodes.append(helper.make_node("Relu", [x], [f"hidden_{i}"]))
            x = f"hidden_{i}"
    ints = {"starts": [0], "ends": [action_size], "axes": [1]}
    for name, value in ints.items():
        weights.append(numpy_helper.from_array(np.asarray(value, np.int64), name))
    nodes += [
        helper.make_node("Slice", [x, "starts", "ends", "axes"], ["mean_action"]),
        helper.make_node("Tanh", ["mean_action"], ["action"]),
    ]
    graph = helper.make_graph(
        nodes,
        f"jaxik_{info['algo']}_{info['env']}",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", layout[n]]) for n in INPUTS],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", action_size])],
        initializer=weights,
    )
    model = helper.make_model(
        graph, producer_name="jaxik", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = 8  # onnxruntime releases from 1.15 on read it
    props = {
        "jaxik_policy": json.dumps(info),
        "jaxik_run": str(run),
        "jaxik_seed": str(info["seeds"][run]),
        "jaxik_env_config": json.dumps(env_config),
        "action_scaling": action_scaling(env_config, action_size),
    }
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    return model


def export(run_dir: Path, onnx_path: Path, run: int = 0) -> Path:
    """Writes run ``run`` of the policy in ``run_dir`` (a run or a policy folder) as
    ``onnx_path`` (written beside it, then renamed). Errors name what is wrong before anything
    is written."""
    import envs
    from jaxik import policy as policy_lib
    from jaxik.host import outputs

    policy = policy_lib.load(run_dir, run=run)  # checks the folder and ``run``
    resolved = envs.make_config(policy.env, **policy.env_config)
    env_config = json.loads(json.dumps(dataclasses.asdict(resolved), default=list))
    model = to_onnx(policy.info, policy.params, run, env_config)
    outputs.write_atomically(onnx_path, model.SerializeToString())
    return onnx_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxik.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, help="a train.py output folder or its policy/")
    parser.add_argument("--onnx", type=Path, required=True, help="the .onnx file to write")
    parser.add_argument("--run", type=int, default=0, help="which run of a scan folder")
    args = parser.parse_args(argv)
    if args.onnx.suffix.lower() != ".onnx":
        parser.error(f"--onnx {args.onnx}: the file must end in .onnx")
    if not args.onnx.parent.is_dir():
        parser.error(f"--onnx {args.onnx}: the folder {args.onnx.parent} does not exist")
    try:
        import onnx  # noqa: F401
    except ImportError:
        parser.error("onnx is not installed: pip install 'jaxik[export]' (or make install)")
    try:
        path = export(args.run_dir, args.onnx, args.run)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {path} (run {args.run} of {args.run_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
