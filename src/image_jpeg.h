/* image_jpeg.h — JPEG files decoded as Pillow decodes them (libjpeg-turbo, Pillow's settings).
 * Internal to the library; used by video.c's image loader. See docs/video.md, "Images". */
#ifndef VS2_IMAGE_JPEG_H
#define VS2_IMAGE_JPEG_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* 1 when the file starts with FF D8 FF (the test of PIL's JPEG plugin), else 0 (also when it
 * cannot be read: the caller's normal open then reports the error). */
int vs2__is_jpeg_file(const char *path);

/* Decode a JPEG file to packed RGB24 (malloc'd, *w x *h x 3) exactly as PIL's
 * Image.open(path).convert("RGB") does. Images over max_pixels are refused before any pixel
 * is decoded. desc receives a short description of the coded colour space ("ycbcr 4:2:0").
 * Errors name the file and libjpeg's message. */
vs2_status vs2__jpeg_load_rgb(const char *path, int64_t max_pixels, uint8_t **rgb, int *w, int *h,
                              char *desc, size_t desc_size, vs2_error *err);

#endif
