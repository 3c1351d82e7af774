module corral

go 1.26.8

// Dependencies, one line each on why they are here:
//   modernc.org/sqlite: pure-Go SQLite (no cgo) for store/sqlite, the embedded default store;
//     the indirect requirements below (modernc.org/libc, ...) are its own.
//   go.yaml.in/yaml/v3: YAML job files for the CLI (`corral run`, `corral job submit`), with line
//     numbers in errors; the YAML organisation's maintained continuation of gopkg.in/yaml.v3, with
//     no dependencies of its own.
//   github.com/jackc/pgx/v5: the PostgreSQL driver and connection pool (pgxpool) for store/postgres,
//     the store several servers share, and its tests; the indirect jackc/pgpassfile,
//     jackc/pgservicefile, jackc/puddle and golang.org/x/text are its own, and golang.org/x/sync
//     is its and modernc.org/libc's.
//   github.com/go-jose/go-jose/v4: verifies the JWTs of bearer-token authentication (api/bearer):
//     JWS with an allow-list of algorithms and JWK sets; maintained, no dependencies of its own.
//   github.com/Azure/azure-sdk-for-go/sdk/storage/azblob (and its azcore): the node agent lists,
//     downloads and uploads blobs for tasks' resource files and output files (SAS URLs), and the
//     tests sign SAS URLs for Azurite with it; v1.8.0, the newest that does not bring in Apache
//     Arrow (v1.8.1 on need it for a listing format Corral does not use). The indirect
//     Azure/.../sdk/internal and golang.org/x/net are its own.

require (
	github.com/Azure/azure-sdk-for-go/sdk/azcore v1.23.3
	github.com/Azure/azure-sdk-for-go/sdk/storage/azblob v1.8.0
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/jackc/pgx/v5 v5.13.0
	go.yaml.in/yaml/v3 v3.0.6
	modernc.org/sqlite v1.62.0
)

require (
	github.com/Azure/azure-sdk-for-go/sdk/internal v1.13.0 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)
