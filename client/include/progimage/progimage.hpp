#pragma once
/// @file
/// The ProgImage C++ client: include this one header.
#include "progimage/client.hpp"
#include "progimage/error.hpp"
#include "progimage/paged.hpp"
#include "progimage/transform.hpp"
#include "progimage/types.hpp"
