// The class-activation map ReLU(sum_k w_k A_k), one invocation per output value.
//
// Grid-stride loop: the host caps the number of workgroups (per-workgroup cost dominates on
// CPU-emulated devices), each invocation takes every (workgroups * 256)-th value.

struct Params {
    batch: u32,
    channels: u32,
    plane: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> activations: array<f32>; // [batch, channels, plane]
@group(0) @binding(2) var<storage, read> weights: array<f32>; // [batch, channels]
@group(0) @binding(3) var<storage, read_write> maps: array<f32>; // [batch, plane]

const WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var index = id.x; index < params.batch * params.plane; index += groups.x * WORKGROUP) {
        let image = index / params.plane;
        let pixel = index % params.plane;
        // Neighbouring invocations read neighbouring pixels of the same channel (coalesced).
        var sum = 0.0;
        for (var k = 0u; k < params.channels; k++) {
            let channel = image * params.channels + k;
            sum += weights[channel] * activations[channel * params.plane + pixel];
        }
        maps[index] = max(sum, 0.0);
    }
}
