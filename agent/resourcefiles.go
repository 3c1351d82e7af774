package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"corral/batch"
)

// defaultFileMode is the mode Azure gives a resource file on Linux when fileMode is not given.
const defaultFileMode = 0o770

// downloadResourceFiles downloads a task's resource files into its working directory wd, in
// order, and returns nil or the Failure that fails the attempt (Azure's codes: BlobNotFound,
// ResourceContainerAccessDenied…). Every file is created through an os.Root on wd, so that
// neither a path nor a symbolic link left in wd by an earlier attempt leads outside it.
func downloadResourceFiles(ctx context.Context, hc *http.Client, wd string, files []batch.ResourceFile) *Failure {
	root, err := os.OpenRoot(wd)
	if err != nil {
		return fileFailure(CodeResourceDirectoryCreateFailed, err.Error())
	}
	defer root.Close()
	for _, rf := range files {
		var f *Failure
		switch {
		case rf.AutoStorageContainerName != "" || len(rf.IdentityReference) > 0:
			f = fileFailure(CodeBlobDownloadMiscError, "autoStorageContainerName and identityReference are not supported")
		case rf.HTTPURL != "":
			f = downloadURL(ctx, hc, root, rf)
		default:
			f = downloadContainer(ctx, root, rf)
		}
		if f != nil {
			return f
		}
	}
	return nil
}

// fileMode is a resource file's mode: its fileMode, else Azure's default.
func fileMode(rf batch.ResourceFile) (fs.FileMode, *Failure) {
	if rf.FileMode == "" {
		return defaultFileMode, nil
	}
	m, ok := batch.ParseFileMode(rf.FileMode)
	if !ok {
		return 0, fileFailure(CodeResourceFileCreateFailed, fmt.Sprintf("fileMode %q is not an octal mode", rf.FileMode))
	}
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode, nil
}

// downloadURL downloads an httpUrl resource file with a plain GET: the URL may be any http or
// https URL, a blob's with a SAS among them.
func downloadURL(ctx context.Context, hc *http.Client, root *os.Root, rf batch.ResourceFile) *Failure {
	mode, f := fileMode(rf)
	if f != nil {
		return f
	}
	name, f := localPath(rf.FilePath, "")
	if f != nil {
		return f
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rf.HTTPURL, nil)
	if err != nil {
		return fileFailure(CodeBlobDownloadMiscError, "the URL "+rf.HTTPURL+" cannot be requested")
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap() // *url.Error repeats the URL, SAS and all
		}
		return fileFailure(CodeBlobDownloadMiscError, fmt.Sprintf("GET %s: %v", rf.HTTPURL, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		code := byStatus(resp.StatusCode, CodeBlobNotFound, CodeBlobAccessDenied, CodeBlobDownloadMiscError)
		return fileFailure(code, fmt.Sprintf("GET %s: %s", rf.HTTPURL, resp.Status))
	}
	return writeResource(root, name, mode, resp.Body, rf.HTTPURL)
}

// downloadContainer downloads the blobs of a storageContainerUrl resource file (those whose
// names start with blobPrefix), each to filePath/<blob name>.
func downloadContainer(ctx context.Context, root *os.Root, rf batch.ResourceFile) *Failure {
	mode, f := fileMode(rf)
	if f != nil {
		return f
	}
	cc, err := containerClient(rf.StorageContainerURL)
	if err != nil {
		return fileFailure(CodeResourceContainerListMiscError, err.Error())
	}
	var opts container.ListBlobsFlatOptions
	if rf.BlobPrefix != "" {
		opts.Prefix = &rf.BlobPrefix
	}
	pager := cc.NewListBlobsFlatPager(&opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			status, detail := storageStatus(err)
			code := byStatus(status, CodeResourceContainerNotFound, CodeResourceContainerAccessDenied, CodeResourceContainerListMiscError)
			return fileFailure(code, "listing "+rf.StorageContainerURL+": "+detail)
		}
		for _, item := range page.Segment.BlobItems {
			if item.Name == nil || strings.HasSuffix(*item.Name, "/") {
				continue // a directory marker
			}
			blobName := *item.Name
			name, f := localPath(rf.FilePath, blobName)
			if f != nil {
				return f
			}
			resp, err := cc.NewBlobClient(blobName).DownloadStream(ctx, nil)
			if err != nil {
				status, detail := storageStatus(err)
				code := byStatus(status, CodeBlobNotFound, CodeBlobAccessDenied, CodeBlobDownloadMiscError)
				return fileFailure(code, "blob "+blobName+": "+detail)
			}
			f = writeResource(root, name, mode, resp.Body, "blob "+blobName)
			resp.Body.Close()
			if f != nil {
				return f
			}
		}
	}
	return nil
}

// localPath is where a resource file goes in the working directory: filePath, or filePath/blob
// for a container's blob. A path that is absolute or leaves the working directory is refused
// (the API refuses such a filePath; a blob's name may hold "..").
func localPath(filePath, blob string) (string, *Failure) {
	p := filePath
	if blob != "" {
		p = path.Join(filePath, blob)
	}
	if p == "" || batch.EscapesDir(filePath) || batch.EscapesDir(p) || path.Clean(p) == "." {
		return "", fileFailure(CodeResourceFileCreateFailed, fmt.Sprintf("the path %q is not inside the task's working directory", p))
	}
	return path.Clean(p), nil
}

// writeResource writes body to name in root with mode, creating its directories.
func writeResource(root *os.Root, name string, mode fs.FileMode, body io.Reader, source string) *Failure {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o770); err != nil {
			return fileFailure(CodeResourceDirectoryCreateFailed, err.Error())
		}
	}
	// A file left by an earlier attempt is replaced; a symbolic link is removed, not followed.
	out, err := replaceFile(root, name, 0o600)
	if err != nil {
		return fileFailure(CodeResourceFileCreateFailed, err.Error())
	}
	if _, err := io.Copy(out, body); err != nil {
		out.Close()
		var pe *fs.PathError
		if errors.As(err, &pe) { // the local write failed, not the download
			return fileFailure(CodeResourceFileWriteFailed, err.Error())
		}
		return fileFailure(CodeBlobDownloadMiscError, source+": "+err.Error())
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return fileFailure(CodeResourceFileWriteFailed, err.Error())
	}
	if err := out.Close(); err != nil {
		return fileFailure(CodeResourceFileWriteFailed, err.Error())
	}
	return nil
}
