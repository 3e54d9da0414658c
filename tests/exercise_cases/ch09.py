"""Right and wrong answers to the exercises of chapter 09 (read by tests/test_exercises.py)."""

from einops import rearrange


def patchify_right(x, patch_size, tubelet):
    b, t, c, h, w = x.shape
    p = patch_size
    boxes = x.reshape(b, t // tubelet, tubelet, c, h // p, p, w // p, p)
    boxes = boxes.permute(0, 1, 4, 6, 2, 5, 7, 3)  # b, t', h', w', pt, p, p, c
    return boxes.reshape(b, t // tubelet, h // p, w // p, tubelet * p * p * c)


def patchify_channels_first(x, patch_size, tubelet):  # (pt c p p): Conv3d's weight order, not the library's
    return rearrange(x, "b (t pt) c (h p1) (w p2) -> b t h w (pt c p1 p2)", pt=tubelet, p1=patch_size, p2=patch_size)


def patchify_plain_reshape(x, patch_size, tubelet):  # reshape without moving axes: boxes are not patches
    b, t, c, h, w = x.shape
    p = patch_size
    return x.reshape(b, t // tubelet, h // p, w // p, tubelet * p * p * c)


def patchify_columns_first(x, patch_size, tubelet):  # walks each patch column by column
    return rearrange(x, "b (t pt) c (h p1) (w p2) -> b t h w (pt p2 p1 c)", pt=tubelet, p1=patch_size, p2=patch_size)


def patchify_grid_transposed(x, patch_size, tubelet):  # the token grid comes out (w, h)
    return rearrange(x, "b (t pt) c (h p1) (w p2) -> b t w h (pt p1 p2 c)", pt=tubelet, p1=patch_size, p2=patch_size)


def patchify_tubelet_last(x, patch_size, tubelet):  # the frame inside the tubelet varies fastest
    return rearrange(x, "b (t pt) c (h p1) (w p2) -> b t h w (p1 p2 c pt)", pt=tubelet, p1=patch_size, p2=patch_size)


def class_token_map_right(weights, frames, height, width):
    b, heads, n, _ = weights.shape
    per_frame = 1 + height * width
    rows = weights.reshape(b, heads, frames, per_frame, frames, per_frame)[:, :, :, 0]  # class-token queries
    patches = rows[..., 1:].mean(dim=(1, 2))  # (b, t, h w)
    return patches.reshape(b, frames, height, width)


def class_token_map_first_frame_only(weights, frames, height, width):  # one class token, not one per frame
    b, heads, n, _ = weights.shape
    per_frame = 1 + height * width
    row = weights[:, :, 0].mean(dim=1).reshape(b, frames, per_frame)
    return row[..., 1:].reshape(b, frames, height, width)


def class_token_map_columns(weights, frames, height, width):  # what the patches give the class tokens
    return class_token_map_right(weights.transpose(-2, -1), frames, height, width)


def class_token_map_off_by_one(weights, frames, height, width):  # the class token's slot taken for a patch
    b, heads, n, _ = weights.shape
    per_frame = 1 + height * width
    rows = weights.reshape(b, heads, frames, per_frame, frames, per_frame)[:, :, :, 0]
    return rows[..., :-1].mean(dim=(1, 2)).reshape(b, frames, height, width)


def class_token_map_heads_summed(weights, frames, height, width):  # a sum over heads is not a share
    heads = weights.shape[1]
    return heads * class_token_map_right(weights, frames, height, width)


RIGHT = {
    "09.patchify": patchify_right,
    "09.class_token_map": class_token_map_right,
}
WRONG = {
    "09.patchify": [patchify_channels_first, patchify_plain_reshape, patchify_columns_first, patchify_grid_transposed,
                    patchify_tubelet_last],
    "09.class_token_map": [class_token_map_first_frame_only, class_token_map_columns, class_token_map_off_by_one,
                           class_token_map_heads_summed],
}
