// pytorch-grad-cam's scale_cam_image for a batch of maps, one workgroup per image:
//   min-max normalise the CAM, resize it bilinearly to the input size like OpenCV's INTER_LINEAR
//   (half-pixel centres, clamped to the border), min-max normalise again.
// Min-max is (x - min) / (1e-7 + max - min), so a constant map becomes all zeros.
// The normalised CAM is never stored: each resize tap normalises the source value it reads.

struct Params {
    height: u32,
    width: u32,
    out_height: u32,
    out_width: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> maps: array<f32>; // [batch, height * width]
@group(0) @binding(2) var<storage, read_write> scaled: array<f32>; // [batch, out_height * out_width]

const WORKGROUP: u32 = 256u;
const EPS: f32 = 1e-7;
// The largest finite f32, exactly: a decimal literal such as 3.4028235e38 lies just above it, which
// naga rounds down but Chromium's Tint rejects as out of range (the whole shader fails).
const BIG: f32 = 0x1.fffffep+127f;

var<workgroup> lows: array<f32, WORKGROUP>;
var<workgroup> highs: array<f32, WORKGROUP>;

// Workgroup-wide (min, max) of each invocation's (low, high).
fn min_max(lid: u32, low: f32, high: f32) -> vec2<f32> {
    lows[lid] = low;
    highs[lid] = high;
    for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if lid < stride {
            lows[lid] = min(lows[lid], lows[lid + stride]);
            highs[lid] = max(highs[lid], highs[lid + stride]);
        }
    }
    workgroupBarrier();
    let result = vec2(lows[0], highs[0]);
    // Nobody may overwrite the arrays for the next reduction before everyone has read them.
    workgroupBarrier();
    return result;
}

// One axis of an INTER_LINEAR tap: the two source indices and the weight of the second.
struct Tap {
    first: u32,
    second: u32,
    fraction: f32,
}

// OpenCV samples destination d at source (d + 0.5) * src / dst - 0.5. That is the rational
// ((2d + 1) * src - dst) / (2 * dst), so the floor is taken exactly in integers and only the
// fraction is rounded; positions before the first or past the last centre clamp to the border.
fn tap(d: u32, src: u32, dst: u32) -> Tap {
    let numerator = i32((2u * d + 1u) * src) - i32(dst);
    let denominator = i32(2u * dst);
    if numerator < 0 {
        return Tap(0u, 0u, 0.0);
    }
    let index = numerator / denominator;
    if u32(index) >= src - 1u {
        return Tap(src - 1u, src - 1u, 0.0);
    }
    let fraction = f32(numerator - index * denominator) / f32(denominator);
    return Tap(u32(index), u32(index) + 1u, fraction);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let image = group.x;
    let plane = params.height * params.width;
    let out_plane = params.out_height * params.out_width;
    let in_base = image * plane;
    let out_base = image * out_plane;

    var low = BIG;
    var high = -BIG;
    for (var i = lid; i < plane; i += WORKGROUP) {
        low = min(low, maps[in_base + i]);
        high = max(high, maps[in_base + i]);
    }
    let cam_range = min_max(lid, low, high);
    let cam_min = cam_range.x;
    let cam_span = EPS + cam_range.y - cam_range.x;

    low = BIG;
    high = -BIG;
    for (var o = lid; o < out_plane; o += WORKGROUP) {
        let y = tap(o / params.out_width, params.height, params.out_height);
        let x = tap(o % params.out_width, params.width, params.out_width);
        let row0 = in_base + y.first * params.width;
        let row1 = in_base + y.second * params.width;
        let a = (maps[row0 + x.first] - cam_min) / cam_span;
        let b = (maps[row0 + x.second] - cam_min) / cam_span;
        let c = (maps[row1 + x.first] - cam_min) / cam_span;
        let d = (maps[row1 + x.second] - cam_min) / cam_span;
        let top = a * (1.0 - x.fraction) + b * x.fraction;
        let bottom = c * (1.0 - x.fraction) + d * x.fraction;
        let value = top * (1.0 - y.fraction) + bottom * y.fraction;
        scaled[out_base + o] = value;
        low = min(low, value);
        high = max(high, value);
    }
    let out_range = min_max(lid, low, high);
    let out_span = EPS + out_range.y - out_range.x;

    // Each invocation rewrites only the values it wrote itself, so no storage barrier is needed.
    for (var o = lid; o < out_plane; o += WORKGROUP) {
        scaled[out_base + o] = (scaled[out_base + o] - out_range.x) / out_span;
    }
}
