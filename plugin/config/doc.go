// Package config builds fnmgr's validated Options from command-line flags,
// FNMGR_* environment variables and a JSON configuration file.
//
// Every setting has a flag (a Flag* constant), an environment variable (the
// matching Env* constant) and a key in the file named by --config or
// FNMGR_CONFIG (the flag's name). A flag given on the command line wins over
// the environment, which wins over the file, which wins over the default.
// Parse validates everything and reports every problem at once, naming the
// flag and the variable. Settings lists them for the documentation
// (docs/configuration.md is checked against it).
//
// Secrets (the admin token, CouchDB credentials in its URL) never appear in
// errors or in the Options' log value.
package config
