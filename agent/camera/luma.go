package camera

import (
	"image"
	"image/color"
)

// lumaInto copies an image's luma into buf (grown when too small) as a
// frame with Stride = width. The decoders of live cameras give *image.YCbCr
// (raw YUV formats and most MJPEG) or *image.Gray; other images go through
// the slower generic colour conversion.
func lumaInto(img image.Image, buf []byte) (Frame, []byte) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if cap(buf) < w*h {
		buf = make([]byte, w*h)
	}
	buf = buf[:w*h]
	copyRows := func(pix []byte, stride, offset int) {
		for y := 0; y < h; y++ {
			copy(buf[y*w:(y+1)*w], pix[offset+y*stride:])
		}
	}
	switch m := img.(type) {
	case *image.YCbCr:
		copyRows(m.Y, m.YStride, m.YOffset(b.Min.X, b.Min.Y))
	case *image.Gray:
		copyRows(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y))
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				buf[y*w+x] = row[2*x] // the high byte
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				buf[y*w+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			}
		}
	}
	return Frame{Y: buf, Stride: w, Width: w, Height: h}, buf
}
