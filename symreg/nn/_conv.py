"""`RelaxedGroupConv`: group convolutions whose kernels may vary with the group element."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, final

import jax
import jax.numpy as jnp
from flax import nnx

from symreg import _validation
from symreg.actions import Image, Regular, Symmetry
from symreg.equivariance import exact_equivariance_error
from symreg.flax import nnx_functional
from symreg.groups import AbstractGroup, Cyclic
from symreg.nn._actions import RegularImage, image_group_error

#: The values of `domain`.
DOMAINS = ("image", "sequence")


@final
@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """The static structure of a `RelaxedGroupConv` (hashable; arrays live in the module).

    Attributes:
      group: Cyclic(n)/Dihedral(n), n in (1, 2, 4), for images; Cyclic(length) for sequences.
      domain: "image" or "sequence".
      lifting: images only: the input is an image (H, W, C) rather than a group feature map
        (H, W, G, C).
      in_features, out_features: channels C_in and C_out.
      kernel_size: K, odd.
      num_bases: L, the number of base kernels mixed per group element.

    Raises:
      TypeError, ValueError: an argument of the wrong type or value, naming it.

    Examples:
      >>> from symreg.groups import Cyclic
      >>> from symreg.nn import ConvSpec
      >>> spec = ConvSpec(Cyclic(4), "image", False, 2, 3, kernel_size=3, num_bases=2)
      >>> spec.kernel_shape(), spec.example_shape(5)
      ((2, 3, 3, 4, 2, 3), (5, 5, 4, 2))
    """

    group: AbstractGroup
    domain: str
    lifting: bool
    in_features: int
    out_features: int
    kernel_size: int
    num_bases: int

    def __post_init__(self):
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, got {self.domain!r}")
        if not isinstance(self.group, AbstractGroup):
            raise TypeError(f"group must be a group from symreg.groups, got {self.group!r:.80}")
        msg = self._group_error()
        if msg is not None:
            raise ValueError(f"group={self.group!r} cannot act in RelaxedGroupConv: {msg}")
        if self.lifting and self.domain == "sequence":
            raise ValueError("lifting=True is for images; a sequence has no group axis to add")
        for name in ("in_features", "out_features", "kernel_size", "num_bases"):
            _validation.positive_int(getattr(self, name), name)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a centred kernel), got {self.kernel_size}")
        if self.domain == "sequence" and self.kernel_size > self.order:
            raise ValueError(
                f"kernel_size must be at most the sequence length n = {self.order} (the "
                f"circular padding wraps once), got {self.kernel_size}"
            )

    def _group_error(self) -> str | None:
        if self.domain == "image":
            return image_group_error(self.group)
        if not isinstance(self.group, Cyclic):
            return "a sequence of length n is acted on by Cyclic(n) circular shifts"
        return None

    @property
    def order(self) -> int:
        """G: the group order (for sequences, the length n)."""
        return self.group.order

    def kernel_shape(self) -> tuple[int, ...]:
        """(L, K, K, C_in, C_out) lifting; (L, K, K, G, C_in, C_out) group; (L, K, C_in, C_out)."""
        k, io = self.kernel_size, (self.in_features, self.out_features)
        if self.domain == "sequence":
            return (self.num_bases, k, *io)
        return (self.num_bases, k, k, *(() if self.lifting else (self.order,)), *io)

    def example_shape(self, size: int) -> tuple[int, ...]:
        """The shape of one input example for an image side or sequence length `size`."""
        if self.domain == "sequence" or self.lifting:
            return (*(size,) * (1 if self.domain == "sequence" else 2), self.in_features)
        return (size, size, self.order, self.in_features)

    def symmetry(self) -> Symmetry:
        """The `Symmetry` under which the layer is exactly equivariant at zero relaxation."""
        if self.domain == "sequence":
            return Symmetry(self.group, Regular(axis=0), Regular(axis=0))
        return Symmetry(self.group, Image() if self.lifting else RegularImage(), RegularImage())


def _image_kernels(spec: ConvSpec, kernels: jax.Array) -> jax.Array:
    """Every base kernel moved by every element h: the HWIO kernel of all G·L responses."""
    moved_by = RegularImage() if not spec.lifting else Image()
    psi = jnp.moveaxis(kernels, 0, -3)  # (K, K, [G_in,] L, C_in, C_out)
    stack = jax.vmap(lambda h: moved_by.apply(spec.group, h, psi))(spec.group.elements())
    k, g, lc = spec.kernel_size, spec.order, spec.num_bases * spec.out_features
    # (G_out, K, K, [G_in,] L, C_in, C_out) -> (K, K, [G_in,] C_in, G_out, L, C_out)
    order = (1, 2, 4, 0, 3, 5) if spec.lifting else (1, 2, 3, 5, 0, 4, 6)
    stack = jnp.transpose(stack, order)
    return stack.reshape(k, k, -1, g * lc)


def base_responses(spec: ConvSpec, kernels: jax.Array, x: jax.Array) -> jax.Array:
    """The L exactly equivariant convolutions y_l(x), shape (B, ..., G, L, C_out).

    Images: (B, H, W, G, L, C_out), zero 'SAME' padding (symmetric for odd K). Sequences:
    (B, n, L, C_out), circular padding; the position is the group element.
    """
    b, k = x.shape[0], spec.kernel_size
    if spec.domain == "sequence":
        pad = k // 2
        xp = jnp.concatenate([x[:, x.shape[1] - pad :], x, x[:, :pad]], axis=1)
        w = jnp.moveaxis(kernels, 0, -2).reshape(k, spec.in_features, -1)  # (K, C_in, L·C_out)
        out = jax.lax.conv_general_dilated(xp, w.astype(x.dtype), (1,), "VALID", **_NWC)
        return out.reshape(b, x.shape[1], spec.num_bases, spec.out_features)
    xf = x.reshape(x.shape[:3] + (-1,))  # group conv: (B, H, W, G_in·C_in)
    w = _image_kernels(spec, kernels).astype(x.dtype)
    out = jax.lax.conv_general_dilated(xf, w, (1, 1), "SAME", **_NHWC)
    return out.reshape(x.shape[:3] + (spec.order, spec.num_bases, spec.out_features))


_NWC = dict(dimension_numbers=("NWC", "WIO", "NWC"))
_NHWC = dict(dimension_numbers=("NHWC", "HWIO", "NHWC"))


def init_kernels(key: jax.Array, spec: ConvSpec, dtype: Any) -> jax.Array:
    """L base kernels, normal with variance 1/fan-in (fan-in = K^d·[G]·C_in)."""
    shape = spec.kernel_shape()
    fan_in = math.prod(shape[1:-1])
    return (jax.random.normal(key, shape, dtype) / math.sqrt(fan_in)).astype(dtype)


def init_coefficients(spec: ConvSpec, dtype: Any) -> jax.Array:
    """Coefficients w_l(h) = 1/√L for every h: zero relaxation, an exactly equivariant layer."""
    return jnp.full((spec.order, spec.num_bases), spec.num_bases**-0.5, dtype)


def mix(y: jax.Array, coefficients: jax.Array, bias: jax.Array) -> jax.Array:
    """Σ_l w_l(h) y_l(..., h) + bias for base responses y (..., G, L, C_out)."""
    w = coefficients.astype(y.dtype)
    return jnp.einsum("...glc,gl->...gc", y, w) + bias.astype(y.dtype)


def relaxation_of(coefficients: jax.Array) -> jax.Array:
    """Σ_h ‖w(h) − mean_h w(h)‖², in the pairwise form (exactly 0 for equal rows)."""
    w = coefficients
    return jnp.sum(jnp.square(w[:, None] - w[None, :])) / (2 * w.shape[0])


def relaxation_bound_of(y: jax.Array, coefficients: jax.Array) -> jax.Array:
    """2·M·relaxation: M = max over h of the batch mean of Σ_{u,l,c} y_l(x)(u, h, c)²."""
    axes = tuple(i for i in range(1, y.ndim) if i != y.ndim - 3)
    m = jnp.max(jnp.mean(jnp.sum(jnp.square(y), axis=axes), axis=0))
    return 2.0 * m * relaxation_of(coefficients)


def check_input(spec: ConvSpec, x: Any) -> None:
    """Raises `ValueError` naming x unless it is a batch of examples the layer takes."""
    shape = tuple(getattr(x, "shape", ()))
    size = shape[1] if len(shape) > 1 else 0
    want = spec.example_shape(size if spec.domain == "image" else spec.order)
    if len(shape) != len(want) + 1 or shape[1:] != want:
        kind = (
            "a sequence"
            if spec.domain == "sequence"
            else "an image"
            if spec.lifting
            else ("a group feature map")
        )
        raise ValueError(
            f"x must be a batch of {kind} shaped (B, {', '.join(map(str, want))}) for {spec!r}, "
            f"got shape {shape}"
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x must have a floating dtype, got {x.dtype}")


class RelaxedGroupConv(nnx.Module):
    """A relaxed group convolution: L base kernels mixed by per-group-element coefficients.

    In the style of the relaxed group convolutions of Wang, Walters & Yu (ICML 2022): each
    base kernel ψ_l gives an exactly equivariant convolution y_l (a lifting or group
    convolution on images under C4/D4 by rot90 and flips; a circular convolution on sequences
    under Cyclic(n) shifts), and the output at group element h mixes them with coefficients
    w_l(h) that may vary with h:

        out(x)(u, h) = Σ_l w_l(h) · y_l(x)(u, h) + bias,
        y_l(x)(u, h) = Σ_v x(u + v) · ψ_l(h⁻¹v)   (lifting; group convolutions also move
                                                   the kernel's group axis by h⁻¹).

    For sequences the position u is the group element h. The output transforms by
    `RegularImage` (images: the pixel grid and the regular representation of the group
    axis) or by `Regular(axis=0)` (sequences): `layer.symmetry` is the `Symmetry`.

    Exactly equivariant: every y_l, the bias, and so the whole layer when the coefficients
    do not depend on h (`relaxation() == 0`; they are initialized so, to 1/√L). Relaxed: the
    deviations δ_l(h) = w_l(h) − mean_h w_l(h). ED₂ mapping: the defect at (g, x) is linear
    in δ, so ED₂ is a quadratic form in δ (scaling δ by t scales ED₂ by t²), and on any batch
    ED₂ ≤ 2·M·relaxation() with relaxation() = Σ_h ‖δ(h)‖² and M the largest (over h) batch
    mean of Σ_{u,l,c} y_l(x)(u, h, c)² (`relaxation_bound`). `penalty(x)` is the exact ED₂
    on the batch x (every group element), in the units of every ED₂ in symreg.

    Args:
      in_features: C_in, channels of the input.
      out_features: C_out, channels of each group element's output.
      group: Cyclic(4) or Dihedral(4) (also n = 1, 2) for images; Cyclic(n) for sequences of
        length n.
      domain: "image" (default) or "sequence".
      lifting: images only: the input is an image (B, H, W, C_in); otherwise a group feature
        map (B, H, W, G, C_in). The output is always (B, H, W, G, C_out) for images and
        (B, n, C_out) for sequences.
      kernel_size: K, odd (default 3).
      num_bases: L, the number of base kernels (default 2).
      rngs: `nnx.Rngs` for the kernels.
      param_dtype: the parameters' dtype (default float32).

    Raises:
      TypeError: `group` is not a group; an int argument of the wrong type.
      ValueError: a group the layer cannot act with (e.g. SO2, or Cyclic(8) on images),
        `domain` unknown, `lifting` for sequences, an even `kernel_size`, a count < 1; at
        call time, x of the wrong shape (the message names x).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> from symreg.groups import Cyclic, Dihedral
      >>> from symreg.nn import RelaxedGroupConv
      >>> lift = RelaxedGroupConv(3, 4, group=Dihedral(4), lifting=True, rngs=nnx.Rngs(0))
      >>> y = lift(jnp.ones((2, 5, 5, 3)))
      >>> y.shape, float(lift.relaxation())
      ((2, 5, 5, 8, 4), 0.0)
      >>> seq = RelaxedGroupConv(1, 2, group=Cyclic(6), domain="sequence", rngs=nnx.Rngs(0))
      >>> seq(jnp.ones((3, 6, 1))).shape
      (3, 6, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        group: AbstractGroup,
        domain: str = "image",
        lifting: bool = False,
        kernel_size: int = 3,
        num_bases: int = 2,
        rngs: nnx.Rngs,
        param_dtype: Any = jnp.float32,
    ):
        spec = ConvSpec(
            group, domain, bool(lifting), in_features, out_features, kernel_size, num_bases
        )
        self.spec = spec
        self.kernels = nnx.Param(init_kernels(rngs.params(), spec, param_dtype))
        self.coefficients = nnx.Param(init_coefficients(spec, param_dtype))
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype))

    @property
    def symmetry(self) -> Symmetry:
        """The `Symmetry` (group, input and output actions) of the layer."""
        return self.spec.symmetry()

    def base_responses(self, x: jax.Array) -> jax.Array:
        """The L equivariant convolutions y_l(x): (B, H, W, G, L, C_out) or (B, n, L, C_out)."""
        check_input(self.spec, x)
        return base_responses(self.spec, self.kernels.get_value(), x)

    def __call__(self, x: jax.Array) -> jax.Array:
        return mix(self.base_responses(x), self.coefficients.get_value(), self.bias.get_value())

    def relaxation(self) -> jax.Array:
        """Σ_h ‖w(h) − mean_h w(h)‖²: 0 exactly when the layer is exactly equivariant."""
        return relaxation_of(self.coefficients.get_value())

    def relaxation_bound(self, x: jax.Array) -> jax.Array:
        """2·M·relaxation(), an upper bound on the layer's ED₂ on the batch x (see above)."""
        return relaxation_bound_of(self.base_responses(x), self.coefficients.get_value())

    def penalty(self, x: jax.Array) -> jax.Array:
        """The exact ED₂ of the layer on the batch x (mean over every group element)."""
        apply_fn, state = nnx_functional(self)
        return jnp.mean(exact_equivariance_error(apply_fn, state, x, symmetry=self.symmetry))
