// MaskTune's masking (DESIGN.md step 3) for a batch of saliency maps and raw u8 images.
//
// threshold: one workgroup per image. Over the map values > 0: t = mean + 2 * std with the
//   population std (ddof = 0). Two passes (mean first, then squared deviations) keep f32 accurate
//   where sum-of-squares minus squared sum would cancel. A map with no positive value gets t = 0,
//   which hides nothing since no value exceeds it. Also counts the pixels with map > t.
// apply_mask: each invocation handles u32 words of the packed image bytes ([batch, pixels,
//   channels] interleaved, zero-padded to whole words), in a grid-stride loop over a capped grid.
//   A byte is zeroed when it is a colour channel (channel < colour_channels, so RGBA keeps its
//   alpha) of a pixel whose map value is > t. Words may straddle pixels and images (RGB), which
//   is why the test is per byte.

struct Params {
    batch: u32,
    pixels: u32,
    channels: u32,
    colour_channels: u32,
    words: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> maps: array<f32>; // [batch, pixels]
@group(0) @binding(2) var<storage, read_write> thresholds: array<f32>; // [batch]
@group(0) @binding(3) var<storage, read_write> hidden_pixels: array<u32>; // [batch]
@group(0) @binding(4) var<storage, read_write> images: array<u32>; // [words]

const WORKGROUP: u32 = 256u;

var<workgroup> partial_a: array<f32, WORKGROUP>;
var<workgroup> partial_b: array<f32, WORKGROUP>;
var<workgroup> hidden: atomic<u32>;

// Workgroup-wide sums of each invocation's (a, b).
fn sums(lid: u32, a: f32, b: f32) -> vec2<f32> {
    partial_a[lid] = a;
    partial_b[lid] = b;
    for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if lid < stride {
            partial_a[lid] += partial_a[lid + stride];
            partial_b[lid] += partial_b[lid + stride];
        }
    }
    workgroupBarrier();
    let result = vec2(partial_a[0], partial_b[0]);
    // Nobody may overwrite the arrays for the next reduction before everyone has read them.
    workgroupBarrier();
    return result;
}

@compute @workgroup_size(256)
fn threshold(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let image = group.x;
    let base = image * params.pixels;

    // Counts stay exact in f32 up to 2^24 pixels per image.
    var count = 0.0;
    var total = 0.0;
    for (var i = lid; i < params.pixels; i += WORKGROUP) {
        let v = maps[base + i];
        if v > 0.0 {
            count += 1.0;
            total += v;
        }
    }
    let counted = sums(lid, count, total);
    let n = max(counted.x, 1.0);
    let mean = counted.y / n;

    var squares = 0.0;
    for (var i = lid; i < params.pixels; i += WORKGROUP) {
        let v = maps[base + i];
        if v > 0.0 {
            squares += (v - mean) * (v - mean);
        }
    }
    let deviations = sums(lid, squares, 0.0);
    let t = select(mean + 2.0 * sqrt(deviations.x / n), 0.0, counted.x == 0.0);

    var above = 0u;
    for (var i = lid; i < params.pixels; i += WORKGROUP) {
        if maps[base + i] > t {
            above += 1u;
        }
    }
    atomicAdd(&hidden, above);
    workgroupBarrier();
    if lid == 0u {
        thresholds[image] = t;
        hidden_pixels[image] = atomicLoad(&hidden);
    }
}

@compute @workgroup_size(256)
fn apply_mask(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let image_bytes = params.pixels * params.channels;
    for (var word = id.x; word < params.words; word += groups.x * WORKGROUP) {
        var value = images[word];
        for (var j = 0u; j < 4u; j++) {
            let byte = word * 4u + j;
            let image = byte / image_bytes;
            if image >= params.batch {
                break; // padding after the last image
            }
            let offset = byte % image_bytes;
            let pixel = offset / params.channels;
            let channel = offset % params.channels;
            if channel < params.colour_channels && maps[image * params.pixels + pixel] > thresholds[image] {
                value &= ~(0xffu << (8u * j));
            }
        }
        images[word] = value;
    }
}
