package batch

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidateTaskFiles(t *testing.T) {
	job := Job{ID: "job1"}
	out := func(pattern string) OutputFile {
		return OutputFile{
			FilePattern:   pattern,
			Destination:   &OutputFileDestination{Container: &OutputFileBlobContainerDestination{ContainerURL: "https://a.blob.core.windows.net/out?sig=SECRET"}},
			UploadOptions: &OutputFileUploadOptions{UploadCondition: UploadOnCompletion},
		}
	}
	tests := []struct {
		name     string
		rf       []ResourceFile
		of       []OutputFile
		code     string
		property string
	}{
		{"http file", []ResourceFile{{HTTPURL: "https://x/y?sig=SECRET", FilePath: "in/y.txt", FileMode: "0644"}}, nil, "", ""},
		{"container with prefix", []ResourceFile{{StorageContainerURL: "http://127.0.0.1:1/c?sig=SECRET", BlobPrefix: "data/"}}, nil, "", ""},
		{"container into a directory", []ResourceFile{{StorageContainerURL: "https://a/c", FilePath: "in/"}}, nil, "", ""},
		{"auto storage", []ResourceFile{{AutoStorageContainerName: "c"}}, nil, CodeUnsupportedProperty, "resourceFiles[0].autoStorageContainerName"},
		{"identity", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "y", IdentityReference: json.RawMessage(`{"resourceId":"r"}`)}}, nil,
			CodeUnsupportedProperty, "resourceFiles[0].identityReference"},
		{"no source", []ResourceFile{{FilePath: "y"}}, nil, CodeMissingRequiredProperty, "resourceFiles[0].httpUrl"},
		{"two sources", []ResourceFile{{HTTPURL: "https://x/y", StorageContainerURL: "https://x/c?sig=SECRET", FilePath: "y"}}, nil,
			CodeInvalidPropertyValue, "resourceFiles[0].storageContainerUrl"},
		{"http without filePath", []ResourceFile{{HTTPURL: "https://x/y"}}, nil, CodeMissingRequiredProperty, "resourceFiles[0].filePath"},
		{"http filePath a directory", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "a/"}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].filePath"},
		{"http with blobPrefix", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "y", BlobPrefix: "p"}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].blobPrefix"},
		{"not http", []ResourceFile{{HTTPURL: "file:///etc/passwd", FilePath: "y"}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].httpUrl"},
		{"relative URL", []ResourceFile{{StorageContainerURL: "/c?sig=SECRET"}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].storageContainerUrl"},
		{"absolute filePath", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "/etc/cron.d/x"}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].filePath"},
		{"filePath escapes", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "a/../../y"}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].filePath"},
		{"container filePath escapes", []ResourceFile{{StorageContainerURL: "https://x/c", FilePath: ".."}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].filePath"},
		{"filePath inside after ..", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "a/../y"}}, nil, "", ""},
		{"fileMode not octal", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "y", FileMode: "0789"}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].fileMode"},
		{"fileMode too big", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "y", FileMode: "17777"}}, nil, CodeInvalidPropertyValue, "resourceFiles[0].fileMode"},
		{"second resource file", []ResourceFile{{HTTPURL: "https://x/y", FilePath: "y"}, {HTTPURL: "https://x/y"}}, nil,
			CodeMissingRequiredProperty, "resourceFiles[1].filePath"},

		{"output", nil, []OutputFile{out("**/*.txt"), out("../std*.txt"), out("$AZ_BATCH_TASK_DIR/x")}, "", ""},
		{"output pattern missing", nil, []OutputFile{out("")}, CodeMissingRequiredProperty, "outputFiles[0].filePattern"},
		{"output absolute", nil, []OutputFile{out("/etc/shadow")}, CodeInvalidPropertyValue, "outputFiles[0].filePattern"},
		{"output escapes", nil, []OutputFile{out("../../../etc/*")}, CodeInvalidPropertyValue, "outputFiles[0].filePattern"},
		{"output no destination", nil, []OutputFile{func() OutputFile { o := out("x"); o.Destination = nil; return o }()},
			CodeMissingRequiredProperty, "outputFiles[0].destination"},
		{"output no container", nil, []OutputFile{func() OutputFile { o := out("x"); o.Destination.Container = nil; return o }()},
			CodeMissingRequiredProperty, "outputFiles[0].destination.container"},
		{"output no containerUrl", nil, []OutputFile{func() OutputFile { o := out("x"); o.Destination.Container.ContainerURL = ""; return o }()},
			CodeMissingRequiredProperty, "outputFiles[0].destination.container.containerUrl"},
		{"output identity", nil, []OutputFile{func() OutputFile {
			o := out("x")
			o.Destination.Container.IdentityReference = json.RawMessage(`{"resourceId":"r"}`)
			return o
		}()}, CodeUnsupportedProperty, "outputFiles[0].destination.container.identityReference"},
		{"output headers", nil, []OutputFile{func() OutputFile {
			o := out("x")
			o.Destination.Container.UploadHeaders = []HTTPHeader{{"Content-Type", "text/plain"}, {"x-ms-meta-run", "7"}}
			return o
		}()}, "", ""},
		{"output unknown header", nil, []OutputFile{func() OutputFile {
			o := out("x")
			o.Destination.Container.UploadHeaders = []HTTPHeader{{"x-ms-tags", "a=b"}}
			return o
		}()}, CodeUnsupportedProperty, "outputFiles[0].destination.container.uploadHeaders[0].name"},
		{"output no options", nil, []OutputFile{func() OutputFile { o := out("x"); o.UploadOptions = nil; return o }()},
			CodeMissingRequiredProperty, "outputFiles[0].uploadOptions"},
		{"output bad condition", nil, []OutputFile{func() OutputFile { o := out("x"); o.UploadOptions.UploadCondition = "always"; return o }()},
			CodeInvalidPropertyValue, "outputFiles[0].uploadOptions.uploadCondition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := Task{ID: "t1", CommandLine: "/bin/true", ResourceFiles: tt.rf, OutputFiles: tt.of}
			err := ValidateTask(task, job, nil)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ValidateTask: %v", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok || e.Code != tt.code || e.Value(KeyPropertyName) != tt.property {
				t.Fatalf("ValidateTask: %v, want %s %s", err, tt.code, tt.property)
			}
			if strings.Contains(e.Error(), "SECRET") || strings.Contains(e.Value(KeyPropertyValue), "SECRET") {
				t.Errorf("the error shows a SAS: %v", e)
			}
		})
	}
}

func TestUploadConditionCaseInsensitive(t *testing.T) {
	var o OutputFileUploadOptions
	if err := json.Unmarshal([]byte(`{"uploadCondition":"taskSuccess"}`), &o); err != nil || o.UploadCondition != UploadOnSuccess {
		t.Fatalf("got %q, %v", o.UploadCondition, err)
	}
}
