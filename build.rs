fn main() {
    // Rust test binaries link libpython; give them an rpath so they run without
    // LD_LIBRARY_PATH. The Python extension itself (cdylib) resolves Python symbols
    // from the interpreter that loads it.
    pyo3_build_config::add_libpython_rpath_link_args();
}
