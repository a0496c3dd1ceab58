# progimage_http_parts: the Beast-free pieces of the http module (streaming
# multipart parser, Prometheus metrics registry, conditional requests and
# ranges, the tus header framing), kept apart so they compile fast and can be
# unit-tested and fuzzed alone.
add_library(progimage_http_parts
  ${CMAKE_CURRENT_LIST_DIR}/multipart.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/conditional.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tus.cpp)
target_link_libraries(progimage_http_parts
  PUBLIC progimage_core Boost::headers)
