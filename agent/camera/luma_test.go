package camera

import (
	"bytes"
	"image"
	"image/color"
	"testing"
)

func TestLumaInto_CopiesLumaOfDecodedImages(t *testing.T) {
	ycc := image.NewYCbCr(image.Rect(0, 0, 8, 6), image.YCbCrSubsampleRatio422)
	gray := image.NewGray(image.Rect(0, 0, 8, 6))
	gray16 := image.NewGray16(image.Rect(0, 0, 8, 6))
	rgba := image.NewRGBA(image.Rect(0, 0, 8, 6))
	want := make([]byte, 4*3)
	for y := 0; y < 6; y++ {
		for x := 0; x < 8; x++ {
			v := byte(10*y + x)
			ycc.Y[ycc.YOffset(x, y)] = v
			ycc.Cb[ycc.COffset(x, y)], ycc.Cr[ycc.COffset(x, y)] = 128, 128
			gray.SetGray(x, y, color.Gray{Y: v})
			gray16.SetGray16(x, y, color.Gray16{Y: uint16(v) << 8})
			rgba.SetRGBA(x, y, color.RGBA{v, v, v, 255})
			if x >= 2 && x < 6 && y >= 1 && y < 4 {
				want[(y-1)*4+x-2] = v
			}
		}
	}
	// A sub-image checks that the offsets and strides are honoured.
	r := image.Rect(2, 1, 6, 4)
	for name, img := range map[string]image.Image{
		"YCbCr":  ycc.SubImage(r),
		"Gray":   gray.SubImage(r),
		"Gray16": gray16.SubImage(r),
		"RGBA":   rgba.SubImage(r),
	} {
		f, buf := lumaInto(img, nil)
		if f.Width != 4 || f.Height != 3 || f.Stride != 4 || !bytes.Equal(f.Y, want) {
			t.Errorf("%s: %dx%d stride %d luma %v, want 4x3 stride 4 %v", name, f.Width, f.Height, f.Stride, f.Y, want)
		}
		// The buffer is reused when large enough.
		if _, again := lumaInto(img, buf); &again[0] != &buf[0] {
			t.Errorf("%s: the buffer was not reused", name)
		}
	}
}
