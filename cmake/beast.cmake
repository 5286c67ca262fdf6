# Boost.Asio and Boost.Beast compiled once, in one translation unit (separate compilation), so
# the files that use them only parse headers. A Beast-heavy translation unit otherwise takes
# ~17 s and ~650 MB here. Every target using Asio/Beast links yiwang::beast.
add_library(yiwang_beast STATIC ${CMAKE_CURRENT_LIST_DIR}/beast_src.cc)
add_library(yiwang::beast ALIAS yiwang_beast)
target_compile_definitions(yiwang_beast PUBLIC
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED)
target_link_libraries(yiwang_beast PUBLIC Boost::headers Threads::Threads OpenSSL::SSL)
# The heavy headers are precompiled once and reused by every Beast-using target.
target_precompile_headers(yiwang_beast PUBLIC
  <boost/asio.hpp>
  <boost/beast/core.hpp>
  <boost/beast/http.hpp>
  <boost/beast/websocket.hpp>)
