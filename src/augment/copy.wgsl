// Buffer-to-buffer copy, the GPU bandwidth ceiling of `augtrain bench`: every invocation moves
// one vec4<u32> (16 bytes) from `src` to `dst`.
//
// Bindings (all storage, read_write):
//   @binding(0) info : array<u32>        [number of vec4 elements, workgroups along x]
//   @binding(1) src  : array<vec4<u32>>
//   @binding(2) dst  : array<vec4<u32>>
// CPU twin: the rayon memcpy ceiling in src/bench/ceiling.rs.

@group(0) @binding(0) var<storage, read_write> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * info[1] + wg.x) * 256u + li;
    if (i < info[0]) {
        dst[i] = src[i];
    }
}
