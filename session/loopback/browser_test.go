package loopback

import "testing"

func TestDetectHeadless(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		goos string
		want bool
	}{
		{"linux desktop", map[string]string{"DISPLAY": ":0"}, "linux", false},
		{"linux wayland", map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, "linux", false},
		{"linux no display", nil, "linux", true},
		{"freebsd no display", nil, "freebsd", true},
		{"ssh with X forwarding", map[string]string{"DISPLAY": "localhost:10", "SSH_CONNECTION": "1 2 3 4"}, "linux", true},
		{"ssh tty on mac", map[string]string{"SSH_TTY": "/dev/ttys001"}, "darwin", true},
		{"mac", nil, "darwin", false},
		{"windows", nil, "windows", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DetectHeadless(func(k string) string { return tc.env[k] }, tc.goos)
			if got != tc.want {
				t.Errorf("DetectHeadless = %v, want %v", got, tc.want)
			}
		})
	}
}
