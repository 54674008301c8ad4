// Gather a batch's u8 images from one part of a resident set into the batch's buffer, for a
// resident set held in several device buffers (each below the 2 GiB a binding may span on
// Vulkan and DX12). Launched once per part that holds a slot of the batch, in order; every
// invocation rewrites one 32-bit word of the batch (4 pixels bytes), taking the bytes whose
// image lives in this part and keeping the others (written by another part's launch).
//
// Bindings (all storage, read_write):
//   @binding(0) info  : array<u32>  [batch words, bytes per image, first slot of the part,
//                                    images in the part, batch bytes, workgroups along x]
//   @binding(1) slots : array<u32>  the batch's slots (indices into the whole set)
//   @binding(2) part  : array<u32>  the part's images, packed 4 bytes per word
//   @binding(3) dst   : array<u32>  the batch's images, packed 4 bytes per word
// Checked against uploading the batch itself, bit for bit: tests/testsuite/gpu.rs.

@group(0) @binding(0) var<storage, read_write> info: array<u32>;
@group(0) @binding(1) var<storage, read_write> slots: array<u32>;
@group(0) @binding(2) var<storage, read_write> part: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let w = (wg.y * info[5] + wg.x) * 256u + li;
    if (w >= info[0]) {
        return;
    }
    let per_image = info[1];
    let first = info[2];
    let count = info[3];
    var word = dst[w];
    for (var b = 0u; b < 4u; b = b + 1u) {
        let i = w * 4u + b;
        if (i >= info[4]) {
            break;
        }
        let slot = slots[i / per_image];
        if (slot >= first && slot - first < count) {
            let src = (slot - first) * per_image + i % per_image;
            let byte = (part[src >> 2u] >> ((src & 3u) * 8u)) & 0xffu;
            let shift = b * 8u;
            word = (word & ~(0xffu << shift)) | (byte << shift);
        }
    }
    dst[w] = word;
}
