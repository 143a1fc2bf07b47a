package main

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gonum.org/v1/plot/plotutil"
)

// chromium returns the path of a headless-capable Chromium, or "" when the
// machine has none. CI installs Debian's chromium (.ci/run), so there a
// missing browser fails the test rather than skipping it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: CI installs Debian's chromium package (.ci/run)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium); CI runs this test")
	return ""
}

// TestPageScreenshot writes the short run's HTML page and has headless
// Chromium take a screenshot of it, from the file alone (the page loads
// nothing from the network): the PNG must decode at the window's size and
// show the charts — a page that is mostly background, or has no pixel in
// the level chart's first colour, fails.
func TestPageScreenshot(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	html := filepath.Join(dir, "retail.html")
	if err := run([]string{"-short", "-progress=false", "-db", filepath.Join(dir, "retail.db"), "-html", html}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "retail.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot,
		"--window-size=1200,2400", "file://"+html)
	cmd.Env = append(os.Environ(), "HOME="+dir) // a profile of its own, nothing in the user's home
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	fi, err := os.Stat(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v\n%s", err, out)
	}
	if fi.Size() < 30_000 {
		t.Errorf("the screenshot is %d bytes: too small for a page of charts", fi.Size())
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot does not decode as PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 2400 {
		t.Errorf("the screenshot is %dx%d; want the window's 1200x2400", b.Dx(), b.Dy())
	}
	inked, silver := inkAndColour(img, plotutil.Color(0))
	total := img.Bounds().Dx() * img.Bounds().Dy()
	t.Logf("screenshot: %d bytes, %d of %d pixels inked, %d of the level chart's first colour", fi.Size(), inked, total, silver)
	if inked < total/20 {
		t.Errorf("only %d of %d pixels differ from the background: the page looks blank", inked, total)
	}
	if silver < 2000 {
		t.Errorf("%d pixels of the level chart's first colour: the charts were not drawn", silver)
	}
}

// inkAndColour counts the pixels that are not near-white, and those close
// to c.
func inkAndColour(img image.Image, c color.Color) (inked, matching int) {
	cr, cg, cb, _ := c.RGBA()
	near := func(a, b uint32) bool { return max(a, b)-min(a, b) < 0x0c00 }
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				inked++
			}
			if near(r, cr) && near(g, cg) && near(bl, cb) {
				matching++
			}
		}
	}
	return inked, matching
}
