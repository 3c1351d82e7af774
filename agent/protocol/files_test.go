package protocol

import (
	"bytes"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFileAnswerRoundTrip(t *testing.T) {
	t0 := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	file := &FileEntry{Path: "wd/out.txt", Size: 10, ModTime: t0, Mode: 0o640}
	tests := []struct {
		name string
		a    FileAnswer
		data []byte
	}{
		{"list", FileAnswer{RequestID: "r1", Files: []FileEntry{
			{Path: "stdout.txt", Size: 6, ModTime: t0, Mode: 0o644},
			{Path: "wd", IsDir: true, ModTime: t0, Mode: fs.ModeDir | 0o755},
		}}, nil},
		{"stat", FileAnswer{RequestID: "r2", File: file}, nil},
		{"read", FileAnswer{RequestID: "r3", File: file, Length: 4}, []byte("0\n23")},
		{"read at the end", FileAnswer{RequestID: "r4", File: file}, nil},
		{"error", FileAnswer{RequestID: "r5", Error: FileErrNotFound, Message: "no \"x\"\nhere"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteFileAnswer(&b, tt.a, tt.data); err != nil {
				t.Fatal(err)
			}
			if i := bytes.IndexByte(b.Bytes(), '\n'); i != b.Len()-len(tt.data)-1 {
				t.Errorf("the JSON line ends at %d of %q", i, b.Bytes())
			}
			a, data, err := ReadFileAnswer(&b, 4)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, tt.a) || !bytes.Equal(data, tt.data) {
				t.Errorf("round trip = %+v %q, want %+v %q", a, data, tt.a, tt.data)
			}
		})
	}
}

func TestFileAnswerErrors(t *testing.T) {
	if err := WriteFileAnswer(new(bytes.Buffer), FileAnswer{Length: 3}, []byte("ab")); err == nil {
		t.Error("WriteFileAnswer with a wrong length: no error")
	}
	huge := FileAnswer{Message: strings.Repeat("x", MaxFileAnswerJSON)}
	var b bytes.Buffer
	if err := WriteFileAnswer(&b, huge, nil); !errors.Is(err, ErrFileAnswerTooLarge) || b.Len() != 0 {
		t.Errorf("WriteFileAnswer over the limit = %v, wrote %d bytes", err, b.Len())
	}
	tests := []struct {
		name, body string
		maxData    int64
	}{
		{"empty", "", 10},
		{"no newline", `{"requestId":"r"}`, 10},
		{"not JSON", "{\n", 10},
		{"short data", `{"requestId":"r","length":5}` + "\nabc", 10},
		{"data over the limit", `{"requestId":"r","length":5}` + "\nabcde", 4},
		{"negative length", `{"requestId":"r","length":-1}` + "\n", 4},
		{"bytes after the data", `{"requestId":"r","length":2}` + "\nabc", 4},
		{"JSON line over the limit", `{"message":"` + strings.Repeat("x", MaxFileAnswerJSON) + `"}` + "\n", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, data, err := ReadFileAnswer(strings.NewReader(tt.body), tt.maxData); err == nil {
				t.Errorf("ReadFileAnswer = %+v %q, want an error", a, data)
			}
		})
	}
}

func TestFileError(t *testing.T) {
	if err := (FileAnswer{}).Err(); err != nil {
		t.Errorf("Err of a success = %v", err)
	}
	for code, notExist := range map[string]bool{FileErrNotFound: true, FileErrInvalidPath: false, FileErrFailed: false} {
		err := FileAnswer{Error: code, Message: "m"}.Err()
		var fe *FileError
		if !errors.As(err, &fe) || fe.Code != code || errors.Is(err, fs.ErrNotExist) != notExist {
			t.Errorf("Err of %s = %v (fs.ErrNotExist: %v)", code, err, errors.Is(err, fs.ErrNotExist))
		}
	}
}
