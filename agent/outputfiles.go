package agent

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"corral/batch"
)

// Azure's logs of a task's uploads, in the task directory.
const (
	uploadOutFile = "fileuploadout.txt"
	uploadErrFile = "fileuploaderr.txt"
)

// outputFile is a file to upload: its path in the task directory and its blob's name.
type outputFile struct {
	local, blob string
}

// uploadOutputFiles uploads the output files of an attempt that ended with res, those whose
// uploadCondition matches it, from the task directory dir. Every file is tried; it returns nil
// or the first failure (Azure's FileUploadContainerNotFound, FileUploadAccessDenied or
// FileUploadMiscError). What it uploads and what fails are written to fileuploadout.txt and
// fileuploaderr.txt in dir, URLs without their query strings. Files are read through an os.Root
// on dir: a pattern or a symbolic link that leads out of the task directory uploads nothing.
func uploadOutputFiles(ctx context.Context, dir string, env func(string) string, files []batch.OutputFile, res Result) *Failure {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fileFailure(CodeFileUploadMiscError, err.Error())
	}
	defer root.Close()
	outLog, err := replaceFile(root, uploadOutFile, 0o644)
	if err != nil {
		return fileFailure(CodeFileUploadMiscError, err.Error())
	}
	defer outLog.Close()
	errLog, err := replaceFile(root, uploadErrFile, 0o644)
	if err != nil {
		return fileFailure(CodeFileUploadMiscError, err.Error())
	}
	defer errLog.Close()
	success := res.Started && res.ExitCode == 0 && !res.TimedOut && res.Signal == 0
	var first *Failure
	fail := func(f *Failure) {
		fmt.Fprintf(errLog, "%s: %s\n", f.Code, f.Message)
		if first == nil {
			first = f
		}
	}
	for _, of := range files {
		if !uploadWanted(of, success) {
			continue
		}
		matched, f := matchOutputFiles(root, dir, os.Expand(of.FilePattern, env), of.Destination.Container.Path)
		if f != nil {
			fail(f)
			continue
		}
		if len(matched) == 0 {
			fmt.Fprintf(outLog, "%s: no file matches\n", of.FilePattern)
			continue
		}
		dest := of.Destination.Container
		cc, err := containerClient(dest.ContainerURL)
		if err != nil {
			fail(fileFailure(CodeFileUploadMiscError, err.Error()))
			continue
		}
		opts := uploadOptions(dest.UploadHeaders)
		for _, m := range matched {
			if f := uploadOne(ctx, root, cc.NewBlockBlobClient(m.blob), m, opts); f != nil {
				fail(f)
				continue
			}
			fmt.Fprintf(outLog, "%s -> %s/%s\n", m.local, redactURLs(dest.ContainerURL), m.blob)
		}
	}
	return first
}

// uploadWanted reports whether an output file's uploadCondition matches the attempt.
func uploadWanted(of batch.OutputFile, success bool) bool {
	if of.Destination == nil || of.Destination.Container == nil || of.UploadOptions == nil {
		return false // the API refuses such an output file
	}
	switch of.UploadOptions.UploadCondition {
	case batch.UploadOnSuccess:
		return success
	case batch.UploadOnFailure:
		return !success
	}
	return true
}

// uploadOne uploads one file to its block blob.
func uploadOne(ctx context.Context, root *os.Root, bb *blockblob.Client, m outputFile, opts *blockblob.UploadFileOptions) *Failure {
	f, err := root.Open(m.local)
	if err != nil {
		return fileFailure(CodeFileUploadMiscError, err.Error())
	}
	defer f.Close()
	if _, err := bb.UploadFile(ctx, f, opts); err != nil {
		status, detail := storageStatus(err)
		code := byStatus(status, CodeFileUploadContainerNotFound, CodeFileUploadAccessDenied, CodeFileUploadMiscError)
		return fileFailure(code, m.local+" to blob "+m.blob+": "+detail)
	}
	return nil
}

// uploadOptions turns upload headers into the blob's content headers and metadata.
func uploadOptions(headers []batch.HTTPHeader) *blockblob.UploadFileOptions {
	var h blob.HTTPHeaders
	var meta map[string]*string
	for _, hd := range headers {
		v := hd.Value
		name := strings.TrimPrefix(strings.ToLower(hd.Name), "x-ms-blob-")
		switch name {
		case "content-type":
			h.BlobContentType = &v
		case "content-encoding":
			h.BlobContentEncoding = &v
		case "content-language":
			h.BlobContentLanguage = &v
		case "content-disposition":
			h.BlobContentDisposition = &v
		case "cache-control":
			h.BlobCacheControl = &v
		default:
			if m, ok := strings.CutPrefix(name, "x-ms-meta-"); ok && m != "" {
				if meta == nil {
					meta = map[string]*string{}
				}
				meta[m] = &v
			}
		}
	}
	return &blockblob.UploadFileOptions{HTTPHeaders: &h, Metadata: meta}
}

// matchOutputFiles finds the files of a pattern (expanded already) in the task directory dir,
// opened as root, with their blob names under prefix. A pattern without wildcards names one
// file, whose blob is prefix itself (or the file's name); with wildcards, each file's blob is
// prefix/<its path below the last directory before the first wildcard>.
func matchOutputFiles(root *os.Root, dir, pattern, prefix string) ([]outputFile, *Failure) {
	var rel string
	if filepath.IsAbs(pattern) {
		r, err := filepath.Rel(dir, pattern)
		if err != nil {
			r = ".."
		}
		rel = filepath.ToSlash(r)
	} else {
		rel = path.Join(WorkingDirName, pattern)
	}
	rel = path.Clean(rel)
	if batch.EscapesDir(rel) {
		return nil, fileFailure(CodeFileUploadMiscError, fmt.Sprintf("the filePattern %q leaves the task directory", pattern))
	}
	segs := strings.Split(rel, "/")
	first := len(segs)
	for i, s := range segs {
		if strings.ContainsAny(s, "*?[") {
			first = i
			break
		}
	}
	if first == len(segs) { // one file
		fi, err := root.Stat(rel)
		if err != nil || !fi.Mode().IsRegular() {
			return nil, nil
		}
		name := prefix
		if name == "" {
			name = path.Base(rel)
		}
		return []outputFile{{local: rel, blob: name}}, nil
	}
	base := path.Join(segs[:first]...)
	if base == "" {
		base = "."
	}
	var out []outputFile
	err := fs.WalkDir(root.FS(), base, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil // an unreadable directory is skipped, as a missing one matches nothing
		}
		below := strings.TrimPrefix(name, base+"/")
		if !matchSegments(segs[first:], strings.Split(below, "/")) {
			return nil
		}
		if fi, err := root.Stat(name); err != nil || !fi.Mode().IsRegular() {
			return nil // a link out of the task directory, or to no regular file
		}
		blobName := below
		if prefix != "" {
			blobName = strings.TrimSuffix(prefix, "/") + "/" + below
		}
		out = append(out, outputFile{local: name, blob: blobName})
		return nil
	})
	if err != nil {
		return nil, fileFailure(CodeFileUploadMiscError, err.Error())
	}
	return out, nil
}

// matchSegments matches a path, split at slashes, against a pattern's segments: "**" matches
// any number of directories (at the end, any files below), other segments one name each.
// Names that start with "." are matched only by a segment that starts with ".".
func matchSegments(pats, names []string) bool {
	if len(pats) == 0 {
		return len(names) == 0
	}
	if pats[0] == "**" {
		if len(pats) == 1 {
			return !anyHidden(names)
		}
		if matchSegments(pats[1:], names) {
			return true
		}
		return len(names) > 1 && !strings.HasPrefix(names[0], ".") && matchSegments(pats, names[1:])
	}
	return len(names) > 0 && matchName(pats[0], names[0]) && matchSegments(pats[1:], names[1:])
}

// anyHidden reports whether a name starts with ".".
func anyHidden(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			return true
		}
	}
	return false
}

// matchName matches one name against one segment of Azure's wildcards: * (also **), ?, [abc],
// [a-c] and [!abc] (or [^abc]); a backslash is an ordinary character, as on Linux nodes.
func matchName(pat, name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(pat, ".") {
		return false
	}
	p := strings.ReplaceAll(pat, `\`, `\\`)
	p = strings.ReplaceAll(p, "[!", "[^")
	ok, err := path.Match(p, name)
	return err == nil && ok
}

// replaceFile creates or truncates name in root for writing; what is there and is not a regular
// file (a symbolic link an earlier attempt left) is removed first, not followed.
func replaceFile(root *os.Root, name string, perm fs.FileMode) (*os.File, error) {
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		if err := root.Remove(name); err != nil {
			return nil, err
		}
	}
	return root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
}
