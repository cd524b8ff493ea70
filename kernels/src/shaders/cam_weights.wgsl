// Channel weights of the class-activation map, one invocation per (image, channel).
//
//   xgradcam:   w_k = sum_ij(G_kij * A_kij) / (sum_ij A_kij + 1e-7)
//   gap_linear: the same with the gradient of a global-average-pool + linear head, which is the
//               constant W[c, k] / (h * w) for target class c, so no gradient buffer is needed:
//               w_k = W[c, k] / (h * w) * S_k / (S_k + 1e-7), S_k = sum_ij A_kij.
// A plane is small (h * w of a last conv block, e.g. 7x7), so each invocation sums its own plane;
// a workgroup per channel would spend more on scheduling than on arithmetic.
// Each entry point only binds what it uses (the host builds layouts from the shader).
// Grid-stride loop: the host caps the number of workgroups, each invocation takes every
// (workgroups * 256)-th item.

struct Params {
    batch: u32,
    channels: u32,
    plane: u32,
    classes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> activations: array<f32>; // [batch, channels, plane]
@group(0) @binding(2) var<storage, read> gradients: array<f32>; // [batch, channels, plane]
@group(0) @binding(3) var<storage, read> classifier: array<f32>; // [classes, channels]
@group(0) @binding(4) var<storage, read> targets: array<u32>; // [batch]
@group(0) @binding(5) var<storage, read_write> weights: array<f32>; // [batch, channels]

const WORKGROUP: u32 = 256u;
// pytorch-grad-cam's epsilon: an all-zero channel gets weight 0, not NaN.
const EPS: f32 = 1e-7;

@compute @workgroup_size(256)
fn xgradcam(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var item = id.x; item < params.batch * params.channels; item += groups.x * WORKGROUP) {
        let base = item * params.plane;
        var weighted = 0.0;
        var total = 0.0;
        for (var i = 0u; i < params.plane; i++) {
            let a = activations[base + i];
            weighted += gradients[base + i] * a;
            total += a;
        }
        weights[item] = weighted / (total + EPS);
    }
}

@compute @workgroup_size(256)
fn gap_linear(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var item = id.x; item < params.batch * params.channels; item += groups.x * WORKGROUP) {
        let base = item * params.plane;
        var total = 0.0;
        for (var i = 0u; i < params.plane; i++) {
            total += activations[base + i];
        }
        let image = item / params.channels;
        let channel = item % params.channels;
        let gradient = classifier[targets[image] * params.channels + channel] / f32(params.plane);
        weights[item] = gradient * (total / (total + EPS));
    }
}
