"""Interpolated image actions: rotations by any angle, translations, scalings, affine maps."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg.actions import Image, InterpolatedImage, Trivial, warp_image
from symreg.equivariance import lie_derivatives
from symreg.groups import SO2, SO3, Cyclic, DirectProduct, Scalings, Symmetric, Translations

#: Interpolated quarter turns against rot90 (float32 rounding of cos/sin of π/2 only).
QUARTER_TURN_ATOL = 1e-5
#: Integer translations in "wrap" mode against jnp.roll.
ROLL_ATOL = 1e-5
#: Lie derivative against the one-sided finite difference: steps t (pixels or radians) small
#: enough that no sample point of a 9×7 image leaves its pixel cell.
FD_STEPS = (0.01, 0.005, 0.0025)
#: The gap must shrink ∝ t: gap/t may vary over FD_STEPS by at most this factor (float32
#: rounding of f adds about 1e-7·|f|/t).
FD_SLOPE_SPREAD = 1.5
#: ... and at the smallest t stay below this fraction of |L_A f|.
FD_RTOL = 0.1


def _image(h=9, w=7, c=None, seed=0):
    shape = (h, w) if c is None else (h, w, c)
    return jax.random.normal(jax.random.key(seed), shape)


def _symmetry(*args):
    """A `Symmetry` whose inexact-action warning (once per configuration) is silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return symreg.Symmetry(*args)


def _interior(a, margin=1):
    return a[margin:-margin, margin:-margin]


# --- the actions against exact ones --------------------------------------------------------


@pytest.mark.parametrize("mode", ["constant", "wrap"])
@pytest.mark.parametrize("quarter", [1, 2, 3])
def test_quarter_turns_match_rot90(quarter, mode):
    x = _image(8, 8, c=3)
    angle = jnp.float32(quarter * np.pi / 2)
    out = InterpolatedImage(mode).apply(SO2(), SO2().exp(angle[None]), x)
    exact = Image().apply(Cyclic(4), quarter, x)
    err = float(jnp.max(jnp.abs(_interior(out - exact))))
    assert err <= QUARTER_TURN_ATOL, err


@pytest.mark.parametrize("shift", [(1.0, 0.0), (0.0, 2.0), (-3.0, 1.0)])
def test_integer_translation_wraps_like_roll(shift):
    """t = (right, up) in pixels: right is +columns, up is −rows."""
    x = _image(6, 10, c=2)
    out = InterpolatedImage("wrap").apply(Translations(2, 60.0), jnp.array(shift), x)
    rolled = jnp.roll(x, (-int(shift[1]), int(shift[0])), axis=(0, 1))
    np.testing.assert_allclose(out, rolled, atol=ROLL_ATOL)


def test_constant_mode_fills_zero_and_translations_read_centred():
    """A shift by L − 1 is a shift by −1: the last column goes, zeros come in on the right."""
    x = _image(5, 4)
    out = InterpolatedImage().apply(Translations(2, 8.0), jnp.array([7.0, 0.0]), x)
    np.testing.assert_allclose(out[:, :-1], x[:, 1:], atol=ROLL_ATOL)
    np.testing.assert_allclose(out[:, -1], 0.0, atol=ROLL_ATOL)


def test_non_square_rotation_and_scaling_shapes_and_half_turn():
    x = _image(9, 5, c=2)
    act = InterpolatedImage()
    half = act.apply(SO2(), SO2().exp(jnp.array([np.pi], jnp.float32)), x)
    np.testing.assert_allclose(half, x[::-1, ::-1], atol=QUARTER_TURN_ATOL)
    assert act.apply(Scalings(2.0), jnp.float32(1.5), x).shape == x.shape
    np.testing.assert_allclose(act.apply(Scalings(2.0), jnp.float32(1.0), x), x, atol=1e-6)


def test_scaling_is_a_zoom_about_the_centre():
    """Scaling by 2 reads the point p/2: the centre pixel stays, its neighbour comes from 1/2."""
    x = _image(7, 7)
    out = InterpolatedImage().apply(Scalings(4.0), jnp.float32(2.0), x)
    np.testing.assert_allclose(out[3, 3], x[3, 3], atol=1e-6)
    np.testing.assert_allclose(out[3, 4], 0.5 * (x[3, 3] + x[3, 4]), atol=1e-6)


def test_warp_image_composes_affine_maps_in_the_interior():
    """Shear then rotation = the product map, up to interpolation error of smooth images."""
    u = jnp.linspace(-1, 1, 32)
    x = jnp.sin(2 * u)[:, None] * jnp.cos(3 * u)[None, :28]  # smooth, non-square
    shear = jnp.array([[1.0, 0.2], [0.0, 1.0]])
    rot = SO2().exp(jnp.array([0.3]))
    t = jnp.array([1.5, -0.5])
    twice = warp_image(warp_image(x, shear, jnp.zeros(2)), rot, t)
    once = warp_image(x, rot @ shear, t)
    assert float(jnp.max(jnp.abs(_interior(twice - once, 6)))) < 0.02


def test_interpolated_actions_are_marked_inexact_and_warn():
    act = InterpolatedImage("wrap")
    for group in (SO2(), Translations(2, 8.0), Scalings(2.0), Cyclic(4)):
        assert not act.is_exact(group)
    with pytest.warns(UserWarning, match="is_exact is False"):
        sym = symreg.Symmetry(Scalings(3.0), InterpolatedImage("wrap"))
    assert not sym.is_exact


# --- bad input -----------------------------------------------------------------------------


def test_bad_mode_names_the_argument():
    with pytest.raises(ValueError, match="mode"):
        InterpolatedImage("reflect")
    with pytest.raises(ValueError, match="mode"):
        warp_image(_image(), jnp.eye(2), jnp.zeros(2), mode="nearest")


@pytest.mark.parametrize(
    "group", [Symmetric(3), Translations(3), SO3(), DirectProduct(Cyclic(2), Cyclic(2))]
)
def test_groups_the_action_cannot_act_with(group):
    with pytest.raises(ValueError, match="act_in"):
        symreg.Symmetry(group, InterpolatedImage())


def test_wrong_rank_and_dtype_name_the_argument():
    sym = _symmetry(SO2(), InterpolatedImage("constant"))
    f = lambda p, x: x.reshape(x.shape[0], -1).sum(-1)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="x"):
        symreg.equivariance_error(
            f, None, jnp.ones((2, 3, 4, 5, 6)), key, symmetry=sym, num_samples=1
        )
    with pytest.raises(ValueError, match="x.*floating dtype"):
        symreg.equivariance_error(
            f, None, jnp.ones((2, 5, 6), jnp.int32), key, symmetry=sym, num_samples=1
        )
    with pytest.raises(ValueError, match="x"):
        warp_image(jnp.ones(5), jnp.eye(2), jnp.zeros(2))
    with pytest.raises(ValueError, match="matrix"):
        warp_image(_image(), jnp.eye(3), jnp.zeros(2))
    with pytest.raises(ValueError, match="offset"):
        warp_image(_image(), jnp.eye(2), jnp.zeros(3))
    with pytest.raises(TypeError, match="x"):
        warp_image(jnp.ones((4, 4), jnp.int32), jnp.eye(2), jnp.zeros(2))


# --- Lie derivatives against finite differences --------------------------------------------


def _model(h, w):
    """A smooth, non-equivariant scalar model of one (H, W) image, batched."""
    k1, k2 = jax.random.split(jax.random.key(7))
    w1 = jax.random.normal(k1, (h * w, 16)) / np.sqrt(h * w)
    w2 = jax.random.normal(k2, (16,))
    return lambda p, x: jnp.tanh(x.reshape(x.shape[0], -1) @ w1) @ w2


LIE_CASES = {
    "translation": (Translations(2, 64.0), "wrap"),
    "rotation": (SO2(), "constant"),
    "scaling": (Scalings(2.0), "constant"),
}


@pytest.mark.parametrize("name", LIE_CASES)
def test_lie_derivative_matches_one_sided_finite_differences(name):
    """L_A f(x) vs (f(ρ(e^{tA})x) − f(x))/t: the gap shrinks ∝ t (Gruver et al.'s check)."""
    group, mode = LIE_CASES[name]
    h, w = 9, 7
    x = jax.random.normal(jax.random.key(3), (h, w))
    x = x + jnp.roll(x, 1, 0) + jnp.roll(x, 1, 1)  # some spatial correlation
    f = _model(h, w)
    sym = _symmetry(group, InterpolatedImage(mode), Trivial())
    _, lie = lie_derivatives(f, None, x[None], sym)
    err = symreg.lie_derivative_error(f, None, x[None], symmetry=sym)
    np.testing.assert_allclose(err, lie**2, rtol=1e-5)
    act = InterpolatedImage(mode)
    for i in range(group.num_generators):
        basis = jnp.zeros(group.num_generators).at[i].set(1.0)
        gaps = []
        for t in FD_STEPS:
            moved = act.apply(group, group.exp(t * basis), x)
            fd = (f(None, moved[None]) - f(None, x[None]))[0] / t
            gaps.append(abs(float(fd - lie[i, 0])))
        scale = abs(float(lie[i, 0]))
        print(name, i, "L_A f =", scale, "gaps", gaps)
        assert gaps[-1] <= FD_RTOL * scale, (gaps, scale)
        slopes = np.asarray(gaps) / np.asarray(FD_STEPS)
        assert slopes.max() <= FD_SLOPE_SPREAD * slopes.min(), (gaps, slopes)


def test_lie_derivative_of_an_invariant_model_under_wrap_translation_is_zero():
    """The pixel sum is invariant under circular shifts, and so is every one-sided slope."""
    sym = _symmetry(Translations(2, 64.0), InterpolatedImage("wrap"))
    x = _image(6, 10, c=3)[None]
    err = symreg.lie_derivative_error(lambda p, x: x.sum((1, 2, 3)), None, x, symmetry=sym)
    np.testing.assert_allclose(err, 0.0, atol=1e-8)


@pytest.mark.parametrize("name", LIE_CASES)
def test_action_tangent_is_the_one_sided_slope_per_pixel(name):
    """d/dt ρ(e^{tA})x at 0⁺, pixel by pixel (plain autodiff of bilinear interpolation takes
    the upper cell at every pixel centre, which is wrong where the sample point moves down)."""
    group, mode = LIE_CASES[name]
    x = _image(9, 7)
    act = InterpolatedImage(mode)
    basis = jnp.eye(group.num_generators)
    t = 1e-3
    for v in basis:
        tangent = jax.jvp(lambda c: act.apply(group, group.exp(c), x), (0.0 * v,), (v,))[1]
        fd = (act.apply(group, group.exp(t * v), x) - x) / t
        assert float(jnp.max(jnp.abs(tangent - fd))) < 0.1 * float(jnp.max(jnp.abs(tangent)))


@pytest.mark.parametrize("name", LIE_CASES)
def test_sampled_error_runs_jitted_and_is_zero_for_a_constant_model(name):
    group, mode = LIE_CASES[name]
    sym = _symmetry(group, InterpolatedImage(mode))
    x = jnp.stack([_image(6, 5, c=2, seed=s) for s in range(3)])
    err = jax.jit(
        lambda x: symreg.equivariance_error(
            lambda p, x: jnp.ones(x.shape[0]),
            None,
            x,
            jax.random.key(0),
            symmetry=sym,
            num_samples=4,
        )
    )(x)
    assert err.shape == (4, 3)
    np.testing.assert_allclose(err, 0.0, atol=1e-12)
    pix = lambda p, x: x[:, 2, 2, 0]  # one pixel: not invariant
    err = symreg.equivariance_error(pix, None, x, jax.random.key(0), symmetry=sym, num_samples=4)
    assert float(err.mean()) > 1e-3


def test_half_precision_images_keep_their_dtype():
    x = _image(6, 5, c=2).astype(jnp.bfloat16)
    out = InterpolatedImage().apply(SO2(), SO2().exp(jnp.array([0.4])), x)
    assert out.dtype == jnp.bfloat16 and out.shape == x.shape
